"""diagnostic.probe against a real HTTP server on a free port: kept connections, and failures named
as /diagnostic's details have always named them."""
from __future__ import annotations

import http.server
import threading
import time

import pytest

from support import free_port

from diagnostic.probe import Probe, ProbeError


class Replica(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps connections alive
    body = b'{"status": "ok"}'
    delay = 0.0
    close_after = False  # close the connection without saying so, as a keepalive timeout does

    def do_GET(self):
        time.sleep(self.delay)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)
        self.close_connection = self.close_after

    def log_message(self, *args):
        pass


@pytest.fixture
def replica():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), type("R", (Replica,), {}))
    server.connections = 0
    handle = server.process_request

    def counting(request, address):
        server.connections += 1
        handle(request, address)

    server.process_request = counting
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def probe():
    made = Probe(2)
    yield made
    made.close()


def url(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/_hipflask/ready"


def test_a_probe_answers_the_status_and_the_decoded_body(replica, probe):
    assert probe.get_json(url(replica)) == (200, {"status": "ok"})


def test_checks_of_one_replica_share_one_connection(replica, probe):
    for _ in range(3):
        probe.get_json(url(replica))
    assert replica.connections == 1


def test_a_connection_the_replica_closed_is_replaced(replica, probe):
    replica.RequestHandlerClass.close_after = True
    answers = [probe.get_json(url(replica)) for _ in range(3)]
    assert answers == [(200, {"status": "ok"})] * 3 and replica.connections == 3


def test_a_refused_connection_is_a_connection_error(probe):
    with pytest.raises(ProbeError, match="^ConnectionError$"):
        probe.get_json(f"http://127.0.0.1:{free_port()}/_hipflask/ready")


def test_a_replica_slower_than_the_timeout_is_a_read_timeout(replica, probe):
    replica.RequestHandlerClass.delay = 1.0
    probe.timeout = 0.2
    with pytest.raises(ProbeError, match="^ReadTimeout$"):
        probe.get_json(url(replica))


def test_a_body_that_is_not_json_is_a_value_error(replica, probe):
    replica.RequestHandlerClass.body = b"<html>"
    with pytest.raises(ValueError):
        probe.get_json(url(replica))
