"""Reading the past of the stream `hipflask:events`: where a reconnecting subscriber resumes, and
the events it missed (XRANGE after that id, exclusive, page by page)."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import cast

import redis

from hipflask.errors import HipflaskError
from hipflask.events import STREAM

from events.event import Event, StreamEntry, from_entry, id_key, sse_chunk

PAGE = 500
_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
_MS = re.compile(r"[0-9]{1,15}")


def parse_event_id(value: str | None) -> str | None:
    """A Last-Event-ID / lastEventId value: a stream id `<ms>-<seq>`; 400 otherwise."""
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    if not _ID.fullmatch(value):
        raise HipflaskError(400, "bad_event_id", "an event id is a stream id such as 1732550400000-0")
    return value


def parse_since(value: str | None) -> int | None:
    if value is None or value.strip() == "":
        return None
    if not _MS.fullmatch(value.strip()):
        raise HipflaskError(400, "bad_since", "since is a time in epoch milliseconds")
    return int(value)


class Resume:
    """Where a subscriber starts: `after` (replay the events after this id; None: live only) and the
    `reset` chunk to send first when the events after its id are gone."""

    def __init__(self, after: str | None, reset: bytes | None = None):
        self.after = after
        self.reset = reset


def resume(client: redis.Redis, last_id: str | None, since: int | None) -> Resume:
    """A `reset` when `last_id` is older than the oldest kept event (trimmed by EVENT_STREAM_MAXLEN),
    newer than the newest ever written, or the stream is gone (Redis lost it); `since` replays
    from that time (a `reset` first when events of that time were trimmed)."""
    if last_id is None and since is None:
        return Resume(None)
    try:
        info = client.xinfo_stream(STREAM)
    except redis.ResponseError:  # no stream: nothing was ever kept, or Redis lost it
        info = None
    if info is None or not info.get("first-entry"):
        if last_id is None:
            return Resume(None)
        return Resume(None, _reset("unknown_id", None, None))
    first = _text(info["first-entry"][0])
    newest = _text(info["last-generated-id"])
    if last_id is not None:
        if id_key(last_id) < id_key(first) or id_key(last_id) > id_key(newest):
            return Resume(newest, _reset("trimmed" if id_key(last_id) < id_key(first) else "unknown_id", first, newest))
        return Resume(last_id)
    assert since is not None  # with no last_id, since is set (else the first return)
    start = (since, 0)
    trimmed = int(info.get("entries-added", info.get("length", 0))) > int(info.get("length", 0))
    if trimmed and start < id_key(first):
        return Resume(newest, _reset("trimmed", first, newest))
    return Resume(f"{since - 1}-18446744073709551615" if since > 0 else "0-0")


def replay(client: redis.Redis, after: str) -> Iterator[Event]:
    """Every event after `after` (exclusive) that exists now, in stream order."""
    cursor = after
    while True:
        entries = cast(list[StreamEntry], client.xrange(STREAM, min=f"({cursor}", max="+", count=PAGE))
        for entry_id, fields in entries:
            cursor = _text(entry_id)
            event = from_entry(cursor, _text(fields.get(b"event", b"")))
            if event is not None:
                yield event
        if len(entries) < PAGE:
            return


def _reset(reason: str, oldest: str | None, newest: str | None) -> bytes:
    return sse_chunk(newest, "reset", {"reason": reason, "oldest": oldest, "newest": newest})


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
