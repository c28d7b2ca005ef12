"""The terminal's Server-Sent Events reader reads a stream as a browser's EventSource does."""

from __future__ import annotations

from bot.sse import Event, EventReader


def read(lines: list[str], last_id: str | None = None) -> list[Event]:
    reader = EventReader(last_id)
    return [e for line in lines if (e := reader.feed(line)) is not None]


def test_events_end_at_a_blank_line_and_comments_and_unknown_fields_are_skipped() -> None:
    lines = [": ping - 2026-01-01", "", "id: 7", "event: log", 'data: {"a":', "data: 1}", "retry: 10", "",
             "event: end", "data:{}", ""]
    assert read(lines) == [Event("log", '{"a":\n1}', "7"), Event("end", "{}", "7")]


def test_an_event_without_data_is_dropped_and_its_id_kept() -> None:
    assert read(["id: 9", "event: log", "", "data: x", ""], last_id="3") == [Event("message", "x", "9")]


def test_an_id_with_a_nul_is_ignored() -> None:
    assert read(["id: 1\0", "data: x", ""], last_id="5") == [Event("message", "x", "5")]
