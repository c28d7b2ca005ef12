"""Server-Sent Events read as a browser's EventSource reads them: text lines in, events out. No I/O here, so the
terminal's follower (`awo logs --follow`) and its tests share one reading of the format."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Event:
    name: str
    data: str
    id: str | None  # the stream's last event id when this event ended (it carries over, as in EventSource)


@dataclass
class EventReader:
    """Feed it one line at a time (without its line ending); a blank line ends an event. Comments (`: ping`)
    and unknown fields are skipped; an event without data is dropped, as EventSource drops it."""

    last_id: str | None = None
    _name: str = "message"
    _data: list[str] = field(default_factory=list)

    def feed(self, line: str) -> Event | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._name = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self.last_id = value
        return None

    def _dispatch(self) -> Event | None:
        event = Event(self._name, "\n".join(self._data), self.last_id) if self._data else None
        self._name, self._data = "message", []
        return event
