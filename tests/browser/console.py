"""What a page reports as broken: console errors (CSP refusals, failed loads, script errors) and uncaught exceptions."""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.sync_api import ConsoleMessage, Error, Page


@dataclass
class Console:
    """Collects a page's errors; a test names the few it provokes on purpose (a 401 page), every other one fails."""

    errors: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)

    def expect(self, text: str) -> None:
        """An error containing `text` is what the test provokes, not a defect."""
        self.expected.append(text)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(text in e for text in self.expected)]

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def _on_page_error(self, error: Error) -> None:
        self.errors.append(f"uncaught: {error.name}: {error.message}")
