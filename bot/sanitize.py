"""Untrusted text (titles, bodies, comments) → what a reader of GitHub sees, with nothing hidden left in it.

An issue can hide text from the people who read it but not from the model: HTML comments, zero-width and
bidi characters, image alt text, link titles, hidden elements, entity-encoded characters. `visible` keeps
only what a reader sees. `prose` blanks out what quotes or shows text (quoted lines, code) rather than
saying it, so a trigger phrase counts only where a writer wrote it themselves.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from collections import defaultdict

MAX_CHARS = 100_000  # GitHub caps a body at 65,536; more than that is not a real issue
ROUNDS = 4  # decoding can reveal markup ("&lt;!--"); repeat until nothing changes, a few times at most

# Letters and marks that render as nothing: fillers, variation selectors (used to smuggle bytes), CGJ.
INVISIBLE_EXTRA = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0]
    + list(range(0xFE00, 0xFE10)) + list(range(0xE0100, 0xE01F0))
)
# Format (zero-width, bidi, tags), control, surrogate and private-use characters.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Cc", "Cs", "Co"})
KEPT_CONTROLS = frozenset("\n\t")

# Every pattern below is linear on hostile input (possessive quantifiers, scans that stop at the next
# delimiter): a 100 KB body of `<a ` or `![` once took minutes. tests/unit/test_sanitize.py times them.
HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)
# A tag: its name and attributes (quoted values may hold `>`); it ends at `>`, before the next `<`, or at the end.
TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*+)((?:[^<>\"']++|\"[^\"]*+\"|'[^']*+')*+)(?:>|(?=<)|\Z)")
# Elements GitHub renders (or drops) as HTML; `List<String>` or `<T>` are left alone.
HTML_ELEMENTS = frozenset((
    "a abbr audio b bdi bdo big blockquote br button caption center cite code col colgroup dd del details dfn "
    "div dl dt em embed figcaption figure font form h1 h2 h3 h4 h5 h6 hr i iframe img input ins kbd label li "
    "link map mark math meta noscript object ol option p picture pre q rp rt ruby s samp script section select "
    "small source span strike strong style sub summary sup svg table tbody td template textarea tfoot th thead "
    "time title tr track tt u ul var video wbr"
).split())
# Elements whose content a reader never sees: removed with their content (unclosed: to the end).
HIDDEN_CONTENT = frozenset({"script", "style", "template", "noscript", "textarea", "title"})
HIDDEN_ATTRIBUTE = re.compile(
    r"\bhidden\b|display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|opacity\s*:\s*0", re.IGNORECASE)
IMAGE = re.compile(r"!\[[^\[\]]*+\](?:\([^()]*+\)|\[[^\[\]]*+\])")
LINK_TITLE = re.compile(r"(\]\(\s*+(?:<[^<>\n]*+>|[^\s()\[\]<>]++))\s++(?:\"[^\"]*+\"|'[^']*+'|\([^()]*+\))\s*+\)")
DEFINITION_TITLE = re.compile(
    r"^( {0,3}\[[^\]\n]++\]:[ \t]*+\S++)[ \t]++(?:\"[^\"\n]*+\"|'[^'\n]*+'|\([^)\n]*+\))[ \t]*$", re.MULTILINE)

FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
QUOTED = re.compile(r"^ {0,3}>")
INDENTED = re.compile(r"^(?: {4}|\t)")
BACKTICKS = re.compile(r"`+")


def is_invisible(char: str) -> bool:
    if char in KEPT_CONTROLS:
        return False
    return ord(char) in INVISIBLE_EXTRA or unicodedata.category(char) in INVISIBLE_CATEGORIES


def without_invisible(text: str) -> str:
    """Drop characters that render as nothing or reorder what is shown; line separators become newlines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    return "".join(char for char in text if not is_invisible(char))


def without_tags(text: str) -> str:
    """HTML tags go with their attributes; hidden elements go with their content; other `<...>` stays."""
    kept, pos = [], 0
    while (tag := TAG.search(text, pos)) is not None:
        kept.append(text[pos:tag.start()])
        name = tag.group(2).lower()
        if name not in HTML_ELEMENTS:  # `List<String>`: text, and a tag inside it is still looked at
            kept.append("<")
            pos = tag.start() + 1
            continue
        pos = tag.end()
        if not tag.group(1) and (name in HIDDEN_CONTENT or HIDDEN_ATTRIBUTE.search(tag.group(3))):
            close = re.compile(rf"</{name}\s*>", re.IGNORECASE).search(text, pos)
            pos = close.end() if close else len(text)
    kept.append(text[pos:])
    return "".join(kept)


def without_hidden_markup(text: str) -> str:
    """Comments, hidden elements, tags with their attributes, image alt text and link titles go."""
    text = without_tags(HTML_COMMENT.sub("", text))
    text = IMAGE.sub("[image]", text)
    text = LINK_TITLE.sub(r"\1)", text)
    return DEFINITION_TITLE.sub(r"\1", text)


def _round(text: str) -> str:
    decoded = unicodedata.normalize("NFKC", html.unescape(text))
    return without_hidden_markup(without_invisible(decoded))


def visible(text: str | None, limit: int = MAX_CHARS) -> str:
    """The text as a reader sees it: entities decoded, NFKC, no invisible characters, no hidden markup."""
    text = (text or "")[:limit]
    for _ in range(ROUNDS):
        cleaned = _round(text)
        if cleaned == text:
            break
        text = cleaned
    # still changing after ROUNDS (nested tricks): drop what could be left rather than decode further
    return without_invisible(text).replace("<!--", "").strip()


def one_line(text: str | None, limit: int = 300) -> str:
    """A title: visible, on one line, bounded."""
    return " ".join(visible(text).split())[:limit]


def _blank(text: str) -> str:
    return re.sub(r"[^\n]", " ", text)


def _closes(line: str, fence: str) -> bool:
    closing = FENCE_OPEN.match(line)
    if closing is None:
        return False
    run = closing.group(1)
    return run[0] == fence[0] and len(run) >= len(fence) and not line.strip().strip(fence[0])


def _block_kinds(lines: list[str]) -> list[bool]:
    """For each line: is it code (fenced or indented) or quoted (including a quote's lazy continuation)?"""
    hidden: list[bool] = []
    fence, quote, paragraph = "", False, False
    for line in lines:
        blank = not line.strip()
        if fence:
            fence = "" if _closes(line, fence) else fence
            hidden.append(True)
            continue
        opened = FENCE_OPEN.match(line)
        fence = opened.group(1) if opened else ""
        quote = QUOTED.match(line) is not None or (quote and not blank)
        code = INDENTED.match(line) is not None and not paragraph and not blank
        hidden.append(bool(opened) or quote or code)
        paragraph = not blank and not opened and not code
    return hidden


def code_spans(text: str) -> list[tuple[int, int]]:
    """Where inline code is: a run of backticks up to the next run of the same length (found in one pass)."""
    runs = [(m.start(), m.end()) for m in BACKTICKS.finditer(text)]
    by_length: dict[int, list[int]] = defaultdict(list)
    for index, (start, end) in enumerate(runs):
        by_length[end - start].append(index)
    spans, index = [], 0
    while index < len(runs):
        start, end = runs[index]
        same = by_length[end - start]
        after = bisect.bisect_right(same, index)
        if after == len(same):
            index += 1
            continue
        spans.append((start, runs[same[after]][1]))
        index = same[after] + 1
    return spans


def prose(text: str) -> str:
    """The text with quoted lines and code (fenced, indented, inline) blanked, same length and lines."""
    lines = text.split("\n")
    kept = "\n".join(_blank(line) if hidden else line for line, hidden in zip(lines, _block_kinds(lines), strict=True))
    chars = list(kept)
    for start, end in code_spans(kept):
        chars[start:end] = _blank(kept[start:end])
    return "".join(chars)
