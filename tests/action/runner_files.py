"""The runner's reading of GITHUB_OUTPUT / GITHUB_ENV files, as actions/runner's FileCommandManager does it:
`name=value` lines, and `name<<DELIMITER` blocks that end at a line equal to the delimiter."""

from __future__ import annotations

from pathlib import Path


class FileCommandError(ValueError):
    """The runner would fail the step on this file."""


def parse(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line:
            continue
        equals, heredoc = line.find("="), line.find("<<")
        if equals >= 0 and (heredoc < 0 or equals < heredoc):
            name, value = line[:equals], line[equals + 1:]
        elif heredoc >= 0:
            name, delimiter = line[:heredoc], line[heredoc + 2:]
            if not name or not delimiter:
                raise FileCommandError(f"invalid heredoc line {line!r}")
            block: list[str] = []
            while True:
                if index >= len(lines):
                    raise FileCommandError(f"no closing delimiter {delimiter!r} for {name!r}")
                if lines[index] == delimiter:
                    index += 1
                    break
                block.append(lines[index])
                index += 1
            value = "\n".join(block)
        else:
            raise FileCommandError(f"invalid line {line!r}")
        if not name:
            raise FileCommandError(f"empty name in {line!r}")
        values[name] = value
    return values


def read(path: Path) -> dict[str, str]:
    return parse(path.read_text()) if path.exists() else {}
