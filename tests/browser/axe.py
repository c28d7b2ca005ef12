"""axe-core (npm, pinned in tests/fixtures) run in the page: the serious and critical accessibility violations.

The source is evaluated through Playwright rather than added as a <script>: the dashboard's CSP (script-src 'self')
refuses inline scripts, and evaluation is not subject to it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from tests.e2e.harness import ROOT

AXE = ROOT / "tests/fixtures/node_modules/axe-core/axe.min.js"
BLOCKING = ("serious", "critical")
RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      targets: v.nodes.map(n => n.target.join(" "))}));
}"""


@cache
def source(path: Path = AXE) -> str:
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `make install` (npm ci in tests/fixtures)")
    return path.read_text()


def violations(page: Page) -> list[dict[str, Any]]:
    """Every violation axe finds in the page as it is now."""
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.evaluate(source())
    return page.evaluate(RUN)  # type: ignore[no-any-return]


def serious(page: Page) -> list[str]:
    """The serious and critical ones, one line each: rule id, impact, what it means, the elements."""
    return [f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(v['targets'])}"
            for v in violations(page) if v["impact"] in BLOCKING]
