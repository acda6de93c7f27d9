"""The one event emitter: every committed change goes to the capped Redis stream `hipflask:events`.

`emit_local_event(source, message)` appends the event to the stream `hipflask:events` (which the
events service serves as Server-Sent Events, with replay) whatever LOCAL_EVENT_SOURCES says. When
LOCAL_EVENT_SOURCES selects `source` (a comma list, `*` for all) the event is also a Local Event:
one JSON line on stdout, published on the Redis channel `hipflask:events`.

An event is `{"source", "message", "user_token" (the namespace), "service", "hostname", "time"}`.
A value in the message (`data` for store items, `value` for kv JSON values) longer than
EVENTS_MAX_VALUE_BYTES once encoded is not put in the stream: `value_omitted: true` and its
`value_size` stand for it. Call it after the change is committed; Redis being down never fails
the request (the lost event is counted under `events` in the backplane's failures). An event is in
the stream when the call returns; the events of a process's concurrent writers share one Redis
round trip (hipflask.group_commit: the first emitter sends its own and every event queued
meanwhile in one pipeline, after printing their Local Events in one write).
"""
from __future__ import annotations

import sys
import threading
import time

from flask import has_request_context, json
from prometheus_client import Counter

from hipflask.access import namespace
from hipflask.group_commit import GroupCommit, Write
from hipflask.redis_backplane import Backplane
from hipflask.state import state

CHANNEL = "hipflask:events"
STREAM = "hipflask:events"
VALUE_FIELDS = ("data", "value")
_stdout_lock = threading.Lock()
PUBLISHED = Counter("hipflask_events_published", "Events published on Redis (failures count in "
                    "hipflask_redis_failures_total{purpose=\"events\"})", ["service", "source"])


def selected(source: str) -> bool:
    sources = state().settings.event_sources
    return "*" in sources or source in sources


def _bounded(event: dict, line: str, limit: int) -> str:
    """The stream's line: `line`, or the event without its values when one is too large to inline."""
    message = event["message"]
    if len(line) <= limit or not isinstance(message, dict):
        return line
    trimmed = dict(message)
    for field in VALUE_FIELDS:
        if field in trimmed:
            size = len(json.dumps(trimmed[field]))
            if size > limit:
                del trimmed[field]
                trimmed.update(value_omitted=True, value_size=size)
    return line if trimmed == message else json.dumps({**event, "message": trimmed})


def emit_local_event(source: str, message) -> bool:
    """Append one event to the stream; True when `source` is selected (also printed and published)."""
    settings = state().settings
    event = {
        "source": source,
        "message": message,
        "user_token": namespace() if has_request_context() else None,
        "service": settings.service,
        "hostname": settings.hostname,
        "time": time.time(),
    }
    line = json.dumps(event)
    local = selected(source)
    streamed = _bounded(event, line, settings.events_max_value_bytes)
    if _emits.submit(state().backplane, (local, line, streamed, settings.event_stream_maxlen)):
        PUBLISHED.labels(settings.service, source).inc()
    return local


def _print(lines: list[str]) -> None:
    """Local Events on stdout: one write (and flush) for a batch's lines."""
    with _stdout_lock:
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()


def _publish(backplane: Backplane, batch: list[Write]) -> None:
    """The Local Events of `batch` (`(local, line, streamed, maxlen)` each) printed in one write,
    then one pipeline for its events; each write's result is True when Redis took it."""
    lines = [write.work[1] for write in batch if write.work[0]]
    if lines:
        _print(lines)

    def publish(client):
        local, _, streamed, maxlen = batch[0].work
        if len(batch) == 1 and not local:  # one command: no pipeline to build
            return client.xadd(STREAM, {"event": streamed}, maxlen=maxlen, approximate=True)
        pipe = client.pipeline(transaction=False)
        for write in batch:
            local, line, streamed, maxlen = write.work
            if local:
                pipe.publish(CHANNEL, line)
            pipe.xadd(STREAM, {"event": streamed}, maxlen=maxlen, approximate=True)
        return pipe.execute()

    published = backplane.call("events", publish, count=len(batch)) is not None
    for write in batch:
        write.result = published


_emits = GroupCommit(_publish)
