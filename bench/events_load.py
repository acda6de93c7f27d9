"""The events scenario: N idle subscribers on /events plus a paced write load, write -> receive latency.

Idle subscribers follow a namespace nobody writes to (the service still checks every event against
each of them); a few active subscribers follow the written namespace and time every event
(the write carries its send time). Sockets speak HTTP/1.0 through the gateway, so the stream is the
raw SSE bytes; one thread with a selector reads all of them.
"""
from __future__ import annotations

import http.client
import json
import os
import selectors
import socket
import statistics
import threading
import time
import urllib.parse

from scenarios import Measure

ACTIVE = 5
OPEN_TIMEOUT = 60.0


def _open(host: str, port: int, query: str) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=10)
    sock.sendall(f"GET /events?{query} HTTP/1.0\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
    sock.setblocking(False)
    return sock


class Streams:
    """Every subscriber socket, read by one thread; active ones record each event's latency."""

    def __init__(self, url: str, idle: int, uid: str):
        parts = urllib.parse.urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.selector = selectors.DefaultSelector()
        self.buffers: dict[socket.socket, bytes] = {}
        self.open_count = 0
        self.refused = 0  # answered 503 too_many_subscribers
        self.closed = 0
        self.latencies: list[float] = []
        self.received: dict[int, int] = {}
        self.stopping = False
        for n in range(idle + ACTIVE):
            active = n >= idle
            query = f"uid={uid}&family=message" if active else f"uid=bench-idle-{n % 50}&family=message"
            sock = _open(self.host, self.port, query)
            self.buffers[sock] = b""
            self.selector.register(sock, selectors.EVENT_READ, active)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.stopping:
            for key, _ in self.selector.select(0.2):
                sock, active = key.fileobj, key.data
                try:
                    chunk = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self.selector.unregister(sock)
                    sock.close()
                    self.closed += 1
                    continue
                now = time.time()
                buffer = self.buffers[sock] + chunk
                if buffer.startswith(b"HTTP/") and buffer[9:12] == b"503":
                    self.refused += 1
                if b"retry:" in buffer and not buffer.startswith(b"!"):
                    self.open_count += 1
                    buffer = b"!" + buffer  # counted once
                lines = buffer.split(b"\n")
                self.buffers[sock] = lines.pop()
                if active:
                    for line in lines:
                        if line.startswith(b"data: "):
                            message = json.loads(line[6:]).get("message", {})
                            if "sent" in message:
                                self.latencies.append(now - float(message["sent"]))
                                seq = int(message["seq"])
                                self.received[seq] = self.received.get(seq, 0) + 1

    def wait_open(self, expected: int) -> int:
        deadline = time.monotonic() + OPEN_TIMEOUT
        while self.open_count < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.open_count

    def close(self) -> None:
        self.stopping = True
        self.thread.join(5)
        for sock in list(self.buffers):
            try:
                sock.close()
            except OSError:
                pass


def _write_load(url: str, uid: str, rate: float, duration: float) -> tuple[int, int]:
    """POST /message/local_publish `rate` times a second for `duration` seconds; (sent, failed)."""
    parts = urllib.parse.urlsplit(url)
    sent = failed = 0
    lock = threading.Lock()
    threads = 4
    total = int(rate * duration)
    start = time.monotonic() + 0.1

    def writer(offset: int) -> None:
        nonlocal sent, failed
        connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=10)
        for seq in range(offset, total, threads):
            delay = start + seq / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            body = f"seq={seq}&sent={time.time():.6f}".encode()
            try:
                connection.request("POST", "/message/local_publish", body=body,
                                   headers={"Uid": uid, "Content-Type": "application/x-www-form-urlencoded"})
                ok = connection.getresponse().read() and True
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=10)
            with lock:
                sent += 1
                failed += 0 if ok else 1
        connection.close()

    workers = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return sent, failed


def measure(url: str, idle: int, rate: float, duration: float, events_rss) -> Measure:
    """One run: open the subscribers, measure the events service's memory, write, collect latencies."""
    uid = f"bench-events-{os.getpid()}-{int(time.time() * 1000)}"
    before = events_rss()
    streams = Streams(url, idle, uid)
    try:
        opened = streams.wait_open(idle + ACTIVE)
        refused = streams.refused
        time.sleep(0.5)
        after = events_rss()
        sent, failed = _write_load(url, uid, rate, duration)
        deadline = time.monotonic() + 5
        while sum(streams.received.values()) < sent * ACTIVE and time.monotonic() < deadline:
            time.sleep(0.05)
        received = sum(streams.received.values())
        latencies = sorted(streams.latencies)
    finally:
        streams.close()
    lost = max(0, (sent - failed) * ACTIVE - received)
    per_subscriber = (after - before) / max(1, opened) if before and after else 0
    p50 = statistics.median(latencies) * 1000 if latencies else 0.0
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else 0.0
    detail = (f"{opened}/{idle + ACTIVE} streams open on one replica ({refused} refused 503), "
              f"{per_subscriber / 1024:.1f} KiB RSS each, "
              f"{sent / duration:.0f} writes/s, {received} deliveries to {ACTIVE} active subscribers")
    return Measure(rps=sent / duration, p50_ms=p50, p99_ms=p99,
                   errors=failed + lost + (idle + ACTIVE - opened), requests=sent,
                   mem_growth=max(0, after - before) if before and after else 0, detail=detail)
