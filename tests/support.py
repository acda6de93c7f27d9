"""Helpers for tests of every tier: deadlines instead of sleeps, free ports, missing dependencies."""
from __future__ import annotations

import http.client
import io
import os
import random
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str):
    """A dependency a tier needs is missing: a failure in CI, a skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a tier that cannot run is a failure)")
    pytest.skip(reason)


def wait_until(condition, timeout: float, what: str, interval: float = 0.05):
    """Poll `condition()` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = condition()
            if last:
                return last
        except Exception as exc:  # keep polling; report the last error at the deadline
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)


def client_session() -> requests.Session:
    """A keep-alive session that sends a GET again when the server closed the reused connection
    under it (a gateway reload closes idle keep-alive connections, README "Docker Compose"), as
    browsers and other HTTP clients do; a POST is never sent twice."""
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=Retry(total=2, connect=2, read=2, status=0,
                                                           allowed_methods={"GET", "HEAD"})))
    return session


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def free_port_run(count: int) -> int:
    """The first of `count` consecutive free loopback ports, below the kernel's ephemeral range
    (where any outgoing connection could take one of them between this check and the bind)."""
    first_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        base = random.randint(10000, max(10001, first_ephemeral - count - 1))
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no run of free ports")


def race(writers: int, write, timeout: float = 30) -> dict[int, Any]:
    """`write(n)` in `writers` threads started together; each thread's outcome (its result or its
    exception), waiting up to `timeout` seconds for each thread."""
    start, outcomes = threading.Barrier(writers), {}

    def racer(n):
        start.wait(10)
        try:
            outcomes[n] = write(n)
        except Exception as exc:  # the outcome of a losing writer
            outcomes[n] = exc

    threads = [threading.Thread(target=racer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return outcomes


def pipelined_gets(url: str, path: str, count: int, headers: dict[str, str]) -> list[http.client.HTTPResponse]:
    """`count` GETs of `path` written at once on one connection (HTTP/1.1 pipelining), so they
    reach the server together however slow this machine is; the answers, read whole, in order."""
    host, port = url.removeprefix("http://").split(":")
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{lines}\r\n".encode()
    closing = request[:-2] + b"Connection: close\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=60) as connection:
        connection.sendall(request * (count - 1) + closing)
        received = b"".join(iter(lambda: connection.recv(65536), b""))

    class Replay(io.BytesIO):  # what each http.client.HTTPResponse reads its answer from, in turn
        def makefile(self, mode):
            return self

        def close(self):  # an answer read whole closes its file; the next answer is in it
            pass

    replay, answers = Replay(received), []
    while replay.tell() < len(received):
        answer = http.client.HTTPResponse(replay)
        answer.begin()
        answer.body = answer.read()
        answers.append(answer)
    return answers


def run_threads(target, count: int, args: tuple = (), timeout: float = 120) -> None:
    """Run `target(*args)` in `count` threads at once, wait for all of them, and fail with the
    exceptions any of them raised (a thread's exception is otherwise lost)."""
    errors = []

    def collecting():
        try:
            target(*args)
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=collecting) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    stuck = [thread for thread in threads if thread.is_alive()]
    assert not stuck, f"{len(stuck)} threads still running after {timeout}s"
    assert errors == [], errors


# Token mode: the keys every tier's token-mode app or stack is started with, and tokens signed with them.
AUTH_KEYS = "k1:" + "test-secret-k1-" * 3
ROTATED_AUTH_KEYS = "k2:" + "test-secret-k2-" * 3 + "," + AUTH_KEYS


def race_uploads(url: str, partition: str, count: int = 12) -> dict[int, Any]:
    """`count` uploader posts of one name to `partition`, released together; {writer: status}.
    Writer n sends the bytes `writer n`."""
    import requests

    def upload(number: int) -> int:
        return requests.post(f"{url}/{partition}", files={"file": ("same.txt", f"writer {number}".encode())},
                             headers={"Accept": "application/json"}, timeout=60).status_code

    return race(count, upload, timeout=90)


def token(sub: str = "alice", scope: str = "write", ttl: int = 300, keys: str = AUTH_KEYS) -> str:
    from hipflask.tokens import Keyring, parse_shared_keys
    return Keyring(parse_shared_keys(keys)).mint(sub, scope, ttl)


def bearer(sub: str = "alice", scope: str = "write", **kwargs) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, scope, **kwargs)}"}


class ClosingClient(FlaskClient):
    """A test client that reads every response whole and closes it, and the body it sent, so no
    file a view opened (send_file) or Werkzeug spooled (a large multipart body) outlives the request."""

    def open(self, *args, buffered: bool = True, **kwargs):
        response = super().open(*args, buffered=buffered, **kwargs)
        request = getattr(response, "request", None)
        if request is not None:
            request.environ["wsgi.input"].close()
        return response


ERROR_KEYS = frozenset({"status", "code", "message", "eid"})


def assert_error(response: Any, status: int, code: str | None = None, extra: Iterable[str] = ()) -> dict:
    """`response` (a Flask test response or a requests one) answers `status` in the one error shape,
    with `code`, and exactly the `extra` keys beyond the shape's own; its body."""
    assert response.status_code == status, response.text[:500]
    body = response.get_json() if hasattr(response, "get_json") else response.json()
    assert set(body) == ERROR_KEYS | set(extra), body
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    assert isinstance(body["eid"], str) and body["eid"], body
    return body


def fs_downloaded_bytes(stack) -> float:
    """The fs service's count of the bytes its download answers named (one file size per answer it
    made), read from its own metrics port (the gateway does not serve them), summed over replicas."""
    if stack.kind == "native":
        text = requests.get(f"{stack.service_url('fs')}/_hipflask/metrics", timeout=5).text
    else:
        text = "\n".join(stack.container_get(container, "/_hipflask/metrics") for container in stack.containers("fs"))
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("hipflask_fs_downloaded_bytes_total"))
