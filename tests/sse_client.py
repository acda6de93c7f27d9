"""A small Server-Sent Events reader for tests of every tier: bytes in, events out, with deadlines."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field


@dataclass
class SSE:
    id: str | None = None
    event: str = "message"
    data: str = ""
    received: float = field(default_factory=time.monotonic)

    @property
    def json(self):
        return json.loads(self.data)


def parse(chunks):
    """Events (SSE) from an iterable of byte chunks; comments (`: heartbeat`) come as event `comment`,
    a `retry:` field as event `retry`."""
    buffer = b""
    current: dict = {}
    for chunk in chunks:
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            text = line.decode().rstrip("\r")
            if text == "":
                if current:
                    yield SSE(**current)
                current = {}
            elif text.startswith(":"):
                yield SSE(event="comment", data=text[1:].strip())
            else:
                name, _, value = text.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "retry":
                    yield SSE(event="retry", data=value)
                elif name == "data":
                    current["data"] = current["data"] + "\n" + value if "data" in current else value
                elif name in ("id", "event"):
                    current[name] = value


class Subscriber:
    """Reads an SSE byte stream in the test's thread. The stream must yield something at least every
    few seconds (a heartbeat) so deadlines are checked between chunks."""

    def __init__(self, chunks, on_close=None):
        self.parsed = parse(chunks)
        self.on_close = on_close
        self.retry: str | None = None

    def wait_open(self, timeout: float = 10) -> None:
        """Until the stream's first field, the `retry:` hint (the subscription is registered by then)."""
        deadline = time.monotonic() + timeout
        for event in self.parsed:
            if event.event == "retry":
                self.retry = event.data
                return
            if time.monotonic() > deadline:
                break
        raise AssertionError(f"no retry hint within {timeout}s")

    def next_change(self, timeout: float = 10):
        """The next event that is not a comment or a retry hint; None when the stream ended."""
        deadline = time.monotonic() + timeout
        for event in self.parsed:
            if event.event == "retry":
                self.retry = event.data
            elif event.event != "comment":
                return event
            if time.monotonic() > deadline:
                raise AssertionError(f"no event within {timeout}s")
        return None

    def changes(self, count: int, timeout: float = 30) -> list[SSE]:
        """The next `count` events, or a failure naming how many came before the deadline."""
        deadline = time.monotonic() + timeout
        got = []
        while len(got) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{len(got)} of {count} events within {timeout}s: {got[-3:]}")
            event = self.next_change(remaining)
            assert event is not None, f"the stream ended after {len(got)} of {count} events"
            got.append(event)
        return got

    def quiet_for(self, seconds: float) -> list[SSE]:
        """The events (not comments) that arrive within `seconds`."""
        deadline = time.monotonic() + seconds
        got = []
        for event in self.parsed:
            if event.event == "retry":
                self.retry = event.data
            elif event.event != "comment":
                got.append(event)
            if time.monotonic() > deadline:
                return got
        return got

    def close(self):
        if self.on_close is not None:
            self.on_close()
