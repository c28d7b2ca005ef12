"""Agent Work Orders: GitHub issues in, pull requests out, by the Claude Code agent."""

__version__ = "0.1.0"
