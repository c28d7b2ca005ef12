# Agent Work Orders: `awo serve` (default) or any other `awo` subcommand, as a non-root user.
# Build: docker build -t agent-work-orders .   Run: see README, "Run it in Docker".
# The agent sandbox (bubblewrap) needs namespaces and a /proc of its own, which Docker refuses by default: run with
# --security-opt seccomp=docker/seccomp-bwrap.json --security-opt systempaths=unconfined (SECURITY.md, "Containers").
# The HEALTHCHECK is for `serve`; run `worker` (which serves no HTTP) with --no-healthcheck.

# ---- builder: build tools, and the pinned Claude Code CLI ----
FROM debian:bookworm-slim AS builder
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Debian's own packages, as current as the mirror's bookworm: pinning exact versions breaks on each point release
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates nodejs npm \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*
# Behind a TLS-intercepting proxy, pass its CA certificate(s) (PEM text; public, and the builder stage only):
#   docker build --build-arg EXTRA_CA_CERTS="$(cat proxy-ca.crt)" .
ARG EXTRA_CA_CERTS=""
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN if [ -n "$EXTRA_CA_CERTS" ]; then \
      printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/build-extra.crt && update-ca-certificates; \
    fi
WORKDIR /src

# The CLI first (its lock changes least). npm may skip the postinstall that puts the native binary in place,
# so it is run explicitly; the binary needs only glibc, so the final stage needs no Node.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev \
 && node node_modules/@anthropic-ai/claude-code/install.cjs \
 && node_modules/.bin/claude --version \
 && mkdir -p /opt/claude-code/bin \
 && cp node_modules/@anthropic-ai/claude-code/package.json node_modules/@anthropic-ai/claude-code/LICENSE.md \
       /opt/claude-code/ \
 && cp node_modules/@anthropic-ai/claude-code/bin/claude.exe /opt/claude-code/bin/claude.exe

# ---- deps: the venv with the dependencies (and the build backend), before any source ----
FROM builder AS deps
COPY pyproject.toml ./
RUN python3 -m venv /opt/awo \
 && python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
    > requirements.txt \
 && /opt/awo/bin/pip install --quiet -r requirements.txt "setuptools>=68"

# ---- runtime-venv: the same, without pip and setuptools (the image installs nothing at run time) ----
FROM deps AS runtime-venv
RUN /opt/awo/bin/python -m pip uninstall --quiet --yes pip setuptools

# ---- app: the package itself, non-editable; its files alone are copied into the image, so that a code change
# rebuilds a layer of a few MB, not the venv's ----
FROM deps AS app
COPY README.md ./
COPY bot ./bot
COPY migrations ./migrations
# bot/migrate.py reads migrations/ beside the `bot` package, so they go next to it.
RUN /opt/awo/bin/pip install --quiet --no-deps --no-build-isolation . \
 && site=/opt/awo/lib/python3.11/site-packages \
 && cp -r migrations "$site/migrations" \
 && /opt/awo/bin/python -c "from bot.migrate import migration_files; assert len(migration_files()) > 2" \
 && /opt/awo/bin/python -c "from bot.store.queries import load; load('postgres.sql'); load('sqlite.sql')" \
 && mkdir -p /opt/app/site /opt/app/bin \
 && cp -r "$site/bot" "$site/migrations" "$site"/agent_work_orders-*.dist-info /opt/app/site/ \
 && cp /opt/awo/bin/awo /opt/app/bin/awo

# ---- the image ----
FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive
# No documentation or translations (as Debian's slim images do; said again for bases that do not); no .deb kept.
# hadolint ignore=DL3008
RUN printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
      > /etc/dpkg/dpkg.cfg.d/awo-slim \
 && apt-get update \
 && apt-get install -y --no-install-recommends python3 git bubblewrap ca-certificates tini \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 awo \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/awo --shell /usr/sbin/nologin awo \
 && mkdir -p /data \
 && chown awo:awo /data

COPY --from=builder /opt/claude-code /opt/claude-code
COPY --from=runtime-venv /opt/awo /opt/awo
COPY --from=app /opt/app/site/ /opt/awo/lib/python3.11/site-packages/
COPY --from=app /opt/app/bin/awo /opt/awo/bin/awo

ENV PATH=/opt/awo/bin:/usr/local/bin:/usr/bin:/bin \
    HOME=/home/awo \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CLAUDE_CLI_PATH=/opt/claude-code/bin/claude.exe \
    AGENT_WORK_ORDERS_HOST=0.0.0.0 \
    AGENT_WORK_ORDERS_PORT=8053 \
    AWO_DATA_DIR=/data \
    SQLITE_PATH=/data/work-orders.db \
    AWO_SHUTDOWN_GRACE_SECONDS=8

# numeric, so that Kubernetes' runAsNonRoot can check it
USER 10001:10001
WORKDIR /home/awo
VOLUME ["/data"]
EXPOSE 8053
# 200 only: /health answers 503 when the store or a dependency is down
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('AGENT_WORK_ORDERS_PORT', '8053') + '/health', timeout=4)"]
# tini as PID 1 forwards SIGTERM to awo and reaps orphans (bubblewrap's own, and those of killed CLI and git runs):
# without it they stay zombies (tests/image/test_container.py). After its graceful shutdown uvicorn re-raises
# SIGTERM, so a clean stop ends "by SIGTERM" (143): -e 143 reports that as 0; a crash or a SIGKILL still shows.
ENTRYPOINT ["/usr/bin/tini", "-e", "143", "--", "awo"]
CMD ["serve"]
