"""One change as the events service serves it: parsed once from the stream, formatted once as SSE.

A stream entry holds the emitter's line (`hipflask.events`): `{"source", "message", "user_token",
"time", ...}`. It becomes `data` = `{"namespace", "family", "action", "time" (epoch ms), ...}`
with the family's own fields (store: `store`, `id`, `etag`, `value`; kv: `key`, `etag`,
`content_type`, `size`, `value`; fs: `path`, `etag`, `size`, `sha256`; template: `path`, `etag`;
message: `message`), under the SSE name `<family>.<action>` (`message` for messages).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

FAMILIES = ("store", "kv", "fs", "template", "message")
GLOBAL_FAMILIES = frozenset(("fs", "template"))  # shared by every namespace, like the files themselves
_FAMILY_OF_SOURCE = {"render": "template"}
_ACTIONS: dict[tuple[str, str | None], str] = {("template", "put"): "write"}
_RENAMED = {"store_name": "store", "data": "value", "template": "path"}
# a stream entry as the service's clients return it (no decode_responses): its id and its fields
StreamEntry = tuple[bytes, dict[bytes, bytes]]


def id_key(event_id: str) -> tuple[int, int]:
    """A stream id (`<ms>-<seq>`) as a tuple that orders like the stream."""
    milliseconds, _, sequence = event_id.partition("-")
    return int(milliseconds), int(sequence or 0)


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    key: tuple[int, int]
    name: str
    namespace: str | None
    family: str
    data: dict
    chunk: bytes

    @property
    def is_global(self) -> bool:
        return self.family in GLOBAL_FAMILIES


def sse_chunk(event_id: str | None, name: str, data: dict) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def from_entry(event_id: str, line: str) -> Event | None:
    """The event of one stream entry; None for an entry this service does not know how to serve."""
    try:
        raw = json.loads(line)
        source, message = raw["source"], raw["message"]
    except (ValueError, KeyError, TypeError):
        return None
    family = _FAMILY_OF_SOURCE.get(source, source)
    if family not in FAMILIES:
        return None
    data = {"namespace": raw.get("user_token"), "family": family}
    if family == "message":
        name = "message"
        data.update(action="publish", time=_ms(raw), message=message)
    elif isinstance(message, dict):
        action = _ACTIONS.get((family, message.get("action")), message.get("action"))
        name = f"{family}.{action}"
        data.update(action=action, time=_ms(raw))
        for field, value in message.items():
            if field != "action":
                data[_RENAMED.get(field) or field] = value
    else:
        return None
    return Event(event_id, id_key(event_id), name, data["namespace"], family, data, sse_chunk(event_id, name, data))


def _ms(raw: dict) -> int | None:
    value = raw.get("time")
    return int(value * 1000) if isinstance(value, (int, float)) else None
