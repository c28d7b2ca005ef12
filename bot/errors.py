"""One exception base for everything the bot raises on purpose."""


class BotError(Exception):
    """A failure the bot understands and can report in one line."""


class ConfigError(BotError):
    """A setting is present but unusable; start-up stops with this message."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class StoreUnavailable(BotError):
    """The store could not be reached; callers answer 503 or back off."""


class NotFound(BotError):
    """A row the caller named does not exist."""


class Conflict(BotError):
    """A row would break a uniqueness rule."""


class GitHubError(BotError):
    """A GitHub API call failed."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GitError(BotError):
    """A git command failed."""


class AgentError(BotError):
    """The agent step did not produce a successful result."""


class LeaseLost(BotError):
    """Another worker owns this work order now; stop touching it."""
