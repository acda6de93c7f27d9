"""The one event emitter: local events on stdout and on the Redis event channel.

`emit_local_event(source, message)` does nothing unless `source` is selected by
LOCAL_EVENT_SOURCES (a comma list, `*` for all). A selected event is written as one JSON line to
stdout and published on the Redis channel `hipflask:events` and the capped stream
`hipflask:events` (for consumers that join late). Call it after the change is committed; Redis
being down never fails the request.
"""
from __future__ import annotations

import sys
import threading
import time

from flask import current_app, has_request_context, json

from hipflask.namespace import namespace

CHANNEL = "hipflask:events"
STREAM = "hipflask:events"
_stdout_lock = threading.Lock()


def selected(source: str) -> bool:
    sources = current_app.extensions["hipflask"].event_sources
    return "*" in sources or source in sources


def emit_local_event(source: str, message) -> bool:
    """Emit one event; True when it was selected and written."""
    if not selected(source):
        return False
    settings = current_app.extensions["hipflask"]
    event = {
        "source": source,
        "message": message,
        "user_token": namespace() if has_request_context() else None,
        "service": settings.service,
        "hostname": settings.hostname,
        "time": time.time(),
    }
    line = json.dumps(event)
    with _stdout_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def publish(client):
        pipe = client.pipeline(transaction=False)
        pipe.publish(CHANNEL, line)
        pipe.xadd(STREAM, {"event": line}, maxlen=settings.event_stream_maxlen, approximate=True)
        return pipe.execute()

    current_app.extensions["hipflask.backplane"].call("events", publish)
    return True
