"""Notice at once when a stream's client goes away, not at the stream's next heartbeat.

A stream that only writes learns that its client left when a write fails, so a closed stream would
keep its place under EVENTS_MAX_SUBSCRIBERS for up to EVENTS_HEARTBEAT_SECONDS. Under gunicorn's
gevent worker a greenlet per stream waits for the connection to become readable: the gateway (or
the client) closing it reads as end of file, and the stream is hung up. Under threads the watch is
left out: closing a socket does not wake a thread blocked on it.
"""
from __future__ import annotations

import socket
import sys
import threading

from events.subscription import Subscription


def _gevent_patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")  # gunicorn's gevent worker imported it to patch
    return monkey is not None and bool(monkey.is_module_patched("socket"))


def watch(environ: dict, subscription: Subscription) -> None:
    """Hang `subscription` up when the request's connection reaches end of file."""
    sock = environ.get("gunicorn.socket")
    if sock is None or not _gevent_patched():
        return
    threading.Thread(target=_wait_for_eof, args=(sock, subscription), name="events-hangup", daemon=True).start()


def _wait_for_eof(sock: socket.socket, subscription: Subscription) -> None:
    try:
        peeked = sock.recv(1, socket.MSG_PEEK)
    except OSError:  # closed by the worker once the stream ended
        peeked = b""
    if not peeked:
        subscription.hang_up()
