"""Every refusal a client can see comes from the gateway or from hipflask, in the one JSON error
shape: gunicorn's request-line and header limits sit above the gateway's (8k per line, 32k in all),
so requests up to the gateway's limits reach the service and anything larger is the gateway's."""
import json
import socket
from urllib.parse import urlsplit

import pytest
import requests


def raw_get(gateway: str, target: str, header_lines: str = "") -> tuple[int, dict, bytes]:
    parts = urlsplit(gateway)
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{header_lines}Connection: close\r\n\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as connection:
        connection.sendall(request.encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


def assert_service_answered(status: int, headers: dict, body: bytes) -> None:
    """The kv service itself answered (a missing key: its historical 404 body)."""
    assert status == 404, (status, body[:200])
    assert headers.get("X-HOSTNAME") and json.loads(body) == {"message": "key not found"}


@pytest.mark.parametrize("length", [5_000, 8_000])
def test_a_long_query_within_the_gateway_line_limit_reaches_the_service(gateway, length):
    assert_service_answered(*raw_get(gateway, f"/kv/missing-limits?{'a' * length}"))


def test_a_request_line_over_8k_is_the_gateways_json_414(gateway):
    status, headers, body = raw_get(gateway, f"/kv/missing-limits?{'a' * 9_000}")
    assert status == 414
    assert "X-HOSTNAME" not in headers  # no service saw it
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["code"] == "request_uri_too_long"


@pytest.mark.parametrize("count", [97, 500])
def test_many_headers_within_the_gateway_limit_reach_the_service(gateway, count):
    lines = "".join(f"X-Extra-{i}: value\r\n" for i in range(count))
    assert_service_answered(*raw_get(gateway, "/kv/missing-limits", lines))


def test_a_header_of_8000_bytes_reaches_the_service(gateway):
    assert_service_answered(*raw_get(gateway, "/kv/missing-limits", f"X-Big: {'b' * 8_000}\r\n"))


@pytest.mark.parametrize("lines", [f"X-Big: {'b' * 9_000}\r\n",
                                   "".join(f"X-Extra-{i}: {'v' * 40}\r\n" for i in range(2_000))],
                         ids=["one-header-over-8k", "headers-over-32k"])
def test_headers_over_the_gateway_limit_get_a_json_431(gateway, lines):
    status, headers, body = raw_get(gateway, "/kv/missing-limits", lines)
    assert status == 431
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["code"] == "request_header_fields_too_large"


def test_diagnostic_reports_each_volumes_free_bytes(gateway):
    checks = requests.get(f"{gateway}/diagnostic").json()["checks"]
    for service in ("store", "kv", "fs", "render"):
        assert checks[service]["volume"]["free_bytes"] > 0, service
        assert checks[service]["volume"]["path"], service
