"""Slow clients cannot starve fs: the gateway receives upload bodies whole before fs sees them,
so 64 clients trickling bodies at 1 byte/s hold no fs thread, and a body that stops arriving is
dropped after GATEWAY_BODY_TIMEOUT with nothing stored."""
from __future__ import annotations

import socket
import threading
import time
import uuid

import requests

from support import wait_until

TRICKLERS = 64
TRICKLE_SECONDS = 12
P99_BOUND_SECONDS = 1.0


def trickle(port: int, path: str, until: float, opened: list) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n".encode())
        opened.append(path)
        while time.monotonic() < until:
            connection.sendall(b"x")
            time.sleep(1)


def test_64_trickling_uploads_leave_other_fs_requests_under_1s_p99(integrity_stack, figures):
    url, unique = integrity_stack.url, f"slow-{uuid.uuid4().hex[:8]}"
    assert requests.put(f"{url}/fs/{unique}/small.txt", data=b"small").status_code == 200
    until = time.monotonic() + TRICKLE_SECONDS
    opened: list = []
    threads = [threading.Thread(target=trickle, args=(integrity_stack.port, f"/fs/{unique}/t{i}.bin", until, opened))
               for i in range(TRICKLERS)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(opened) == TRICKLERS, 10, "every trickling client to connect")
    probes = [("GET", f"/fs/{unique}/small.txt", None), ("PUT", f"/fs/{unique}/probe.txt", b"p" * 100),
              ("GET", f"/list/{unique}?format=json", None)]
    latencies, failures = [], []
    session = requests.Session()
    while time.monotonic() < until - 1:
        for method, path, body in probes:
            started = time.perf_counter()
            try:
                status = session.request(method, url + path, data=body, timeout=5).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            latencies.append(time.perf_counter() - started)
            if status != 200:
                failures.append((method, path, status))
    for thread in threads:
        thread.join(TRICKLE_SECONDS + 10)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)]
    figures.append(f"fs probes under {TRICKLERS} uploads trickling at 1 byte/s: {len(latencies)} requests, "
                   f"p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
                   f"max {latencies[-1] * 1000:.1f} ms, {len(failures)} failed")
    assert failures == []
    assert len(latencies) >= 30
    assert p99 < P99_BOUND_SECONDS


def test_an_idle_upload_body_is_dropped_after_the_body_timeout_and_stores_nothing(integrity_stack, body_timeout):
    url, unique = integrity_stack.url, f"idle-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", integrity_stack.port), timeout=body_timeout + 10) as connection:
        connection.sendall(f"PUT /fs/{unique}/idle.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Length: 100\r\n\r\n0123456789".encode())
        answer = b""
        while chunk := connection.recv(4096):
            answer += chunk
    waited = time.monotonic() - started
    assert body_timeout - 0.5 <= waited < body_timeout + 5
    assert answer == b""  # nginx ends a timed-out body without an answer
    assert requests.get(f"{url}/fs/{unique}/idle.bin").status_code == 404
