"""The only reader of the environment: one frozen Settings object, validated at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError
from bot.github_app import check_private_key
from bot.hosts import repository_web_origin
from bot.remotes import PROTOCOLS, RemotePolicy, web_origin
from bot.sandbox import SandboxKind
from bot.steps import EDIT_TOOLS

StorageType = Literal["sqlite", "memory", "file", "postgres", "supabase"]

# Passed to the Claude CLI; nothing else from the environment ever is.
AGENT_ENV_PREFIXES = ("ANTHROPIC_", "CLAUDE_")


class Settings(BaseSettings):
    """Everything configurable, with the defaults of DESIGN.md's environment contract."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    host: str = Field("0.0.0.0", validation_alias="AGENT_WORK_ORDERS_HOST")
    port: int = Field(8053, validation_alias="AGENT_WORK_ORDERS_PORT", ge=0, le=65535)
    storage_type: StorageType = Field("sqlite", validation_alias="STATE_STORAGE_TYPE")
    sqlite_path: Path = Field(Path("./data/work-orders.db"), validation_alias="SQLITE_PATH")
    data_dir: Path = Field(Path("./data"), validation_alias="AWO_DATA_DIR")
    database_url: SecretStr | None = Field(None, validation_alias="DATABASE_URL")
    supabase_url: str | None = Field(None, validation_alias="SUPABASE_URL")
    supabase_service_key: SecretStr | None = Field(None, validation_alias="SUPABASE_SERVICE_KEY")
    webhook_secrets: Annotated[tuple[SecretStr, ...], NoDecode] = Field((), validation_alias="GITHUB_WEBHOOK_SECRET")
    github_token: SecretStr | None = Field(None, validation_alias=AliasChoices("GITHUB_TOKEN", "GH_TOKEN"))
    github_app_id: str | None = Field(None, validation_alias="GITHUB_APP_ID")
    github_app_private_key: SecretStr | None = Field(None, validation_alias="GITHUB_APP_PRIVATE_KEY")
    github_api_url: str = Field("https://api.github.com", validation_alias="GITHUB_API_URL")
    claude_cli_path: str = Field(default_factory=lambda: default_claude_cli(), validation_alias="CLAUDE_CLI_PATH")
    trigger_phrase: str = Field("@claude", validation_alias="TRIGGER_PHRASE", min_length=1)
    trigger_label: str = Field("claude", validation_alias="TRIGGER_LABEL", min_length=1)
    worker_concurrency: int = Field(2, validation_alias="WORKER_CONCURRENCY", ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", validation_alias="LOG_LEVEL")
    log_format: Literal["text", "json"] = Field("text", validation_alias=AliasChoices("LOG_FORMAT", "AWO_LOG_FORMAT"))
    # Beyond the contract: the agent's limits and the PR's shape, each with a sensible default.
    model: str = Field("claude-sonnet-4-5", validation_alias="AWO_MODEL")
    max_turns: int = Field(30, validation_alias="AWO_MAX_TURNS", ge=1)
    step_timeout_seconds: float = Field(1800, validation_alias="AWO_STEP_TIMEOUT_SECONDS", gt=0)
    draft_pull_requests: bool = Field(True, validation_alias="AWO_DRAFT_PR")
    lease_seconds: float = Field(60, validation_alias="AWO_LEASE_SECONDS", gt=0)
    max_attempts: int = Field(3, validation_alias="AWO_MAX_ATTEMPTS", ge=1)
    poll_seconds: float = Field(1.0, validation_alias="AWO_POLL_SECONDS", gt=0)
    # On SIGTERM/SIGINT: how long running work orders may take to finish before their CLI is killed and they
    # are handed back to the queue (keep it under the supervisor's own limit: Docker's default is 10 s).
    shutdown_grace_seconds: float = Field(30, validation_alias="AWO_SHUTDOWN_GRACE_SECONDS", ge=0)
    bot_name: str = Field("Agent Work Orders", validation_alias="AWO_BOT_NAME")
    path_env: str = Field("/usr/local/bin:/usr/bin:/bin", validation_alias="PATH")
    home: str = Field("/tmp", validation_alias="HOME")
    agent_env: dict[str, str] = Field(default_factory=dict, exclude=True)
    api_token: SecretStr | None = Field(None, validation_alias="AWO_API_TOKEN")
    # `awo list|show|logs`: the server they ask (default: this machine's AGENT_WORK_ORDERS_PORT on loopback)
    server_url: str | None = Field(None, validation_alias="AWO_URL")
    # The bot's address as people reach it: progress comments link {AWO_PUBLIC_URL}/work-orders/{id}
    public_url: str | None = Field(None, validation_alias="AWO_PUBLIC_URL")
    bot_email: str = Field("agent-work-orders@users.noreply.github.com", validation_alias="AWO_BOT_EMAIL")
    # Replay and flood limits (admission): a trigger's age, an issue's queue, rates per actor and repository.
    trigger_max_age_seconds: float = Field(600, validation_alias="AWO_TRIGGER_MAX_AGE_SECONDS", gt=0)
    max_waiting_per_issue: int = Field(2, validation_alias="AWO_MAX_WAITING_PER_ISSUE", ge=0)
    rate_limit_per_actor: int = Field(10, validation_alias="AWO_RATE_LIMIT_PER_ACTOR", ge=1)
    rate_limit_per_repo: int = Field(30, validation_alias="AWO_RATE_LIMIT_PER_REPO", ge=1)
    max_pending: int = Field(100, validation_alias="AWO_MAX_PENDING", ge=1)
    # Git: which transports may be used (https; add http/file for local runs and tests) and GitHub's web host.
    git_protocols: Annotated[tuple[str, ...], NoDecode] = Field(("https",), validation_alias="AWO_GIT_PROTOCOLS")
    github_web_url: str | None = Field(None, validation_alias="AWO_GITHUB_WEB_URL")
    agent_sandbox: SandboxKind = Field("bwrap", validation_alias="AWO_AGENT_SANDBOX")
    # The HTTP server's bounds: a slow or idle client cannot hold a connection, a task or memory for long.
    http_timeout_seconds: float = Field(10, validation_alias="AWO_HTTP_TIMEOUT_SECONDS", gt=0)
    http_keep_alive_seconds: float = Field(5, validation_alias="AWO_HTTP_KEEP_ALIVE_SECONDS", gt=0)
    http_max_connections: int = Field(2048, validation_alias="AWO_HTTP_MAX_CONNECTIONS", ge=1)
    # Retention: what the periodic sweep prunes, and how often it runs.
    delivery_retention_days: float = Field(30, validation_alias="AWO_DELIVERY_RETENTION_DAYS", gt=0)
    # A delivery decided on receipt (it can never trigger) is recorded with its outcome but without its body,
    # unless this is set: most deliveries are such, and their bodies are most of the store's growth.
    keep_ignored_payloads: bool = Field(False, validation_alias="AWO_KEEP_IGNORED_PAYLOADS")
    continue_pull_requests: bool = Field(True, validation_alias="AWO_CONTINUE_PULL_REQUESTS")
    # The login the bot acts as on GitHub (assigning it an issue or PR asks for work); asked of GitHub if unset.
    bot_login: str | None = Field(None, validation_alias="AWO_BOT_LOGIN", min_length=1, max_length=100)
    # Characters of a pull request's conversation (and files, linked issue) a prompt may hold; more is cut, noted.
    context_budget: int = Field(60_000, validation_alias="AWO_CONTEXT_BUDGET", ge=2_000, le=1_000_000)
    sweep_seconds: float = Field(3600, validation_alias="AWO_SWEEP_SECONDS", gt=0)
    # Ready worktrees kept per repository and reused (reset and cleaned) by later work orders; 0: none.
    pool_slots: int = Field(4, validation_alias="AWO_POOL_SLOTS", ge=0, le=64)
    # The disk all idle slots together (every repository's) may take, in GB (10^9 bytes); beyond it the least
    # recently used idle ones are deleted; 0: no bound.
    pool_max_gb: float = Field(20, validation_alias="AWO_POOL_MAX_GB", ge=0)
    # Spend limits (bot/spend.py), in US dollars; unset: no cap. A run's cost is counted from the CLI's stream;
    # the daily caps from the ledger of recorded costs, since midnight UTC.
    max_run_usd: float | None = Field(None, validation_alias="AWO_MAX_RUN_USD", gt=0)
    daily_usd_per_repo: float | None = Field(None, validation_alias="AWO_DAILY_USD_PER_REPO", gt=0)
    daily_usd: float | None = Field(None, validation_alias="AWO_DAILY_USD", gt=0)
    # GitHub App auth: the key as a file (a mounted secret) instead of GITHUB_APP_PRIVATE_KEY's PEM text.
    github_app_private_key_file: Path | None = Field(None, validation_alias="GITHUB_APP_PRIVATE_KEY_FILE")
    # Per-repository configuration (.github/agent-work-orders.yml): read at admission unless off; whether a
    # repository may choose its own trigger phrase and label; where an invalid file's answer links to.
    repo_config: bool = Field(True, validation_alias="AWO_REPO_CONFIG")
    repo_triggers: bool = Field(False, validation_alias="AWO_REPO_TRIGGERS")
    # unset: the answer names the schema file in the bot's source instead of linking a guessed address
    config_schema_url: str = Field("", validation_alias="AWO_CONFIG_SCHEMA_URL")
    # The operator's narrowing of the agent's tools (a subset of Read,Glob,Grep,Edit,Write; unset: all of them) and
    # how pull requests are opened (unset: AWO_DRAFT_PR decides); both are the defaults a repository's file merges
    # over, so a repository can narrow them further but never widen them.
    allowed_tools: Annotated[tuple[str, ...] | None, NoDecode] = Field(None, validation_alias="AWO_ALLOWED_TOOLS")
    pr_mode: Literal["none", "draft", "ready"] | None = Field(None, validation_alias="AWO_PR_MODE")
    # `awo worker` (no HTTP server): where it serves its own counters for Prometheus, without a token (they name
    # no repository; the store-derived series are any `awo serve`'s /metrics); unset: nowhere.
    metrics_port: int | None = Field(None, validation_alias="AWO_METRICS_PORT", ge=1, le=65535)
    metrics_host: str = Field("127.0.0.1", validation_alias="AWO_METRICS_HOST", min_length=1)

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("github_app_private_key")
    @classmethod
    def _app_key(cls, value: SecretStr | None) -> SecretStr | None:
        """Refused at start-up, not at the first webhook: a key pasted with `\\n` escapes is unescaped first."""
        if value is None:
            return None
        pem = value.get_secret_value().replace("\\n", "\n")
        check_private_key(pem)
        return SecretStr(pem)

    @field_validator("github_app_private_key_file")
    @classmethod
    def _app_key_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                check_private_key(value.expanduser().read_text())
            except (OSError, UnicodeDecodeError) as exc:
                raise ValueError(f"cannot read {value}: {exc}") from None
        return value

    @field_validator("git_protocols", mode="before")
    @classmethod
    def _split_protocols(cls, value: object) -> object:
        protocols = tuple(p.lower() for p in comma_list(value))
        unknown = set(protocols) - PROTOCOLS
        if unknown or not protocols:
            raise ValueError(f"unknown git protocol(s) {sorted(unknown)}; choose from {sorted(PROTOCOLS)}")
        return protocols

    @field_validator("allowed_tools", mode="before")
    @classmethod
    def _split_tools(cls, value: object) -> object:
        if value is None:
            return None
        tools = tuple(dict.fromkeys(comma_list(value)))
        unknown = [t for t in tools if t not in EDIT_TOOLS]
        if unknown or not tools:
            raise ValueError(f"unknown tool(s) {unknown}; choose from {', '.join(EDIT_TOOLS)}")
        return tools

    @field_validator("pr_mode", mode="before")
    @classmethod
    def _lower_mode(cls, value: object) -> object:
        return (value.strip().lower() or None) if isinstance(value, str) else value

    @field_validator("data_dir", "sqlite_path")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        """Resolved once, against the project folder: git runs in other folders, and `awo repos add` run from
        anywhere must open the same database as the server."""
        return value if str(value) == ":memory:" else (project_root() / value.expanduser()).resolve()

    @field_validator("claude_cli_path")
    @classmethod
    def _cli_path(cls, value: str) -> str:
        """A bare name is looked up on PATH; a relative path (`./node_modules/.bin/claude`) is the project's."""
        path = Path(value).expanduser()
        return os.path.normpath(project_root() / path) if "/" in value else value

    @field_validator("storage_type", "log_format", mode="before")
    @classmethod
    def _lower_storage(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("github_api_url", "supabase_url", "github_web_url", "server_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value.rstrip("/")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        """A link in every comment: http(s), a host, no credentials, query or fragment (each link adds a path)."""
        if not value:
            return None
        parts = urlparse(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
            raise ValueError(f"an http(s) URL with a host and no credentials, e.g. https://awo.example.com: {value!r}")
        if parts.query or parts.fragment or any(c.isspace() or c in "()[]<>\"'" for c in value.strip()):
            raise ValueError("no query, fragment, spaces, brackets or quotes: the comment's Markdown link holds it")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _storage_credentials(self) -> Settings:
        if self.storage_type == "postgres" and self.database_url is None:
            raise ValueError("STATE_STORAGE_TYPE=postgres needs DATABASE_URL")
        if self.storage_type == "supabase" and not (self.supabase_url and self.supabase_service_key):
            raise ValueError("STATE_STORAGE_TYPE=supabase needs SUPABASE_URL and SUPABASE_SERVICE_KEY")
        if self.github_app_id and self.github_app_private_key is None and self.github_app_private_key_file is None:
            raise ValueError("GITHUB_APP_ID is set but GITHUB_APP_PRIVATE_KEY (or GITHUB_APP_PRIVATE_KEY_FILE) is not")
        return self

    @property
    def remote_policy(self) -> RemotePolicy:
        """Where git may fetch from and the one origin that receives the token."""
        return RemotePolicy(web_origin(self.github_api_url, self.github_web_url), self.git_protocols)

    @property
    def api_url(self) -> str:
        """Where `awo list|show|logs` reach the REST API: AWO_URL, else this machine's server on loopback."""
        return self.server_url or f"http://127.0.0.1:{self.port}"

    @property
    def effective_storage(self) -> StorageType:
        """`file` is the seed's old name for the embedded store."""
        return "sqlite" if self.storage_type == "file" else self.storage_type

    @cached_property
    def app_private_key(self) -> str | None:
        """The App's private key (PEM), from the variable or the file, read once."""
        if self.github_app_private_key is not None:
            return self.github_app_private_key.get_secret_value()
        path = self.github_app_private_key_file
        return path.expanduser().read_text() if path is not None else None

    @cached_property
    def webhook_secret_values(self) -> tuple[str, ...]:
        """The webhook secrets in clear, unwrapped once: every delivery's signature is checked against them."""
        return tuple(secret.get_secret_value() for secret in self.webhook_secrets)

    def missing_for_github(self) -> list[str]:
        """What must still be configured before real GitHub events can be handled."""
        missing = []
        if not self.webhook_secrets:
            missing.append("GITHUB_WEBHOOK_SECRET is not set: every webhook delivery will be refused (401)")
        if self.github_token is None and self.github_app_id is None:
            missing.append("GITHUB_TOKEN (or GITHUB_APP_ID) is not set: the bot cannot comment, push or open PRs")
        return missing

    @property
    def github_web_origin(self) -> str:
        """Where `owner/repo` slugs point: github.com, or the GHES host of GITHUB_API_URL / AWO_GITHUB_WEB_URL."""
        return repository_web_origin(self.github_api_url, self.github_web_url)


class RunnerEnv(BaseSettings):
    """What a GitHub Actions runner tells a step (`awo action`): the event, the run, where to write back, and the
    action's `prompt` input."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    event_name: str = Field("", validation_alias="GITHUB_EVENT_NAME")
    event_path: Path | None = Field(None, validation_alias="GITHUB_EVENT_PATH")
    run_id: str = Field("", validation_alias="GITHUB_RUN_ID", pattern=r"^[0-9]*$")
    run_attempt: str = Field("1", validation_alias="GITHUB_RUN_ATTEMPT", pattern=r"^[0-9]+$")
    repository: str = Field("", validation_alias="GITHUB_REPOSITORY")
    ref: str = Field("", validation_alias="GITHUB_REF")
    server_url: str = Field("https://github.com", validation_alias="GITHUB_SERVER_URL")
    workspace: Path | None = Field(None, validation_alias="GITHUB_WORKSPACE")
    runner_temp: Path | None = Field(None, validation_alias="RUNNER_TEMP")
    output: Path | None = Field(None, validation_alias="GITHUB_OUTPUT")
    step_summary: Path | None = Field(None, validation_alias="GITHUB_STEP_SUMMARY")
    prompt: str = Field("", validation_alias="AWO_PROMPT")


def load_runner() -> RunnerEnv:
    """The runner's variables; a bad one becomes one ConfigError naming it."""
    try:
        return RunnerEnv()  # type: ignore[call-arg]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = RunnerEnv.model_fields.get(str(error.get("loc", ("",))[0]))
        raise ConfigError(str(field.validation_alias if field else "runner"),
                          error["msg"].removeprefix("Value error, ")) from None


def project_root() -> Path:
    """Where relative paths start: the source checkout the bot runs from (where `make run` runs and installs
    node_modules), whatever the current folder; for an installed package without one, the current folder."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else Path.cwd()


def default_claude_cli() -> str:
    """The CLI `make install` put in the project's node_modules, else `claude` from PATH."""
    local = project_root() / "node_modules" / ".bin" / "claude"
    return str(local) if local.exists() else "claude"


def comma_list(value: object) -> tuple[str, ...]:
    """A comma-separated variable (or a list, from code) as its non-empty, stripped items."""
    items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    return tuple(str(item).strip() for item in items if str(item).strip())


def agent_passthrough(environ: Mapping[str, str]) -> dict[str, str]:
    """The ANTHROPIC_* and CLAUDE_* variables, the only ones the agent's CLI receives from us."""
    return {k: v for k, v in environ.items() if k.startswith(AGENT_ENV_PREFIXES) and k != "CLAUDE_CLI_PATH"}


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; a bad value becomes one ConfigError naming its variable."""
    overrides.setdefault("agent_env", agent_passthrough(os.environ))
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        variable = _variable_of(error.get("loc", ()))
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigError(variable, message) if variable else ConfigError("configuration", message) from None


def _variable_of(loc: tuple[object, ...]) -> str:
    if not loc:
        return ""
    name = str(loc[0])
    field = Settings.model_fields.get(name)
    alias = field.validation_alias if field else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return str(alias or name).upper()
