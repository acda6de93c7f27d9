"""Clients that open event streams and vanish: each stream ends as soon as its connection closes,
not at its next heartbeat (a minute on integrity_stack), so abandoned streams never hold the
places of EVENTS_MAX_SUBSCRIBERS that new clients need."""
from __future__ import annotations

import socket

import requests

from support import wait_until

STREAMS = 50


def open_stream(port: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sendall(b"GET /events?uid=abandoned HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
    assert b"retry:" in connection.recv(4096) or b"retry:" in connection.recv(4096)
    return connection


def subscribers(stack) -> int:
    return requests.get(f"{stack.service_url('events')}/_hipflask/subscribers", timeout=5).json()["subscribers"]


def test_streams_whose_clients_hang_up_end_at_once_not_at_their_heartbeat(integrity_stack):
    wait_until(lambda: subscribers(integrity_stack) == 0, 10, "no stream open before the test")
    connections = [open_stream(integrity_stack.port) for _ in range(STREAMS)]
    wait_until(lambda: subscribers(integrity_stack) == STREAMS, 10, f"{STREAMS} open streams")
    for connection in connections:
        connection.close()
    wait_until(lambda: subscribers(integrity_stack) == 0, 10, "every abandoned stream to end (heartbeat: 60 s)")
