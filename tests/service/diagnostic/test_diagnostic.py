import http.server
import json
import threading
import time

import pytest

from support import wait_until


def test_diagnostic_reports_ok_with_redis_and_no_targets(client):
    response = client.get("/diagnostic")
    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["version"] == "test-version"


def test_root_is_the_diagnostic_summary(client):
    assert client.get("/").get_json()["message"] == "ok"


def test_diagnostic_uid_is_the_request_namespace(client):
    assert client.get("/diagnostic", headers={"Uid": "alice"}).get_json()["uid"] == "alice"
    assert client.get("/diagnostic").get_json()["uid"] == "DEFAULT"


def test_diagnostic_fails_with_500_naming_an_unreachable_service(build_app):
    from diagnostic.wsgi import build
    app = build_app(build, DIAGNOSTIC_TARGETS="store=http://127.0.0.1:9", DIAGNOSTIC_TIMEOUT="0.5",
                    DIAGNOSTIC_CACHE_SECONDS="0")
    response = app.test_client().get("/diagnostic")
    assert response.status_code == 500
    assert response.get_json()["failed"] == ["store"]


def test_echo_returns_converted_parameters(client):
    assert client.get("/diagnostic/echo?a=1&b=x&c=2.5").get_json() == {"a": 1, "b": "x", "c": 2.5}


def test_echo_as_jsonp(client):
    response = client.get("/diagnostic/echo?a=1&callback=cb")
    assert response.mimetype == "application/javascript"
    assert response.get_data(as_text=True) == 'cb({"a":1});'


def test_fail_answers_500_with_an_eid_as_json_when_asked(client):
    response = client.get("/diagnostic/fail", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.mimetype == "application/json"
    assert len(response.get_json()["eid"]) == 16


def test_fail_answers_an_html_page_with_the_eid_for_browsers(client):
    response = client.get("/diagnostic/fail", headers={"Accept": "text/html"})
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert "Error id" in response.get_data(as_text=True)


def test_fail_logs_the_same_eid_with_the_traceback(client, caplog):
    eid = client.get("/diagnostic/fail", headers={"Accept": "application/json"}).get_json()["eid"]
    record = next(r for r in caplog.records if eid in r.getMessage())
    assert record.exc_info is not None


def test_echo_headers_returns_request_headers(client):
    assert client.post("/echo", headers={"X-Thing": "yes"}).get_json()["X-Thing"] == "yes"


def test_hello_handler_is_loaded_from_the_handlers_folder(client):
    assert client.get("/hello").get_data(as_text=True) == "World!"


def test_local_publish_publishes_the_converted_form_on_the_event_stream(client, events):
    response = client.post("/message/local_publish", data={"n": "3", "word": "hi"})
    assert response.get_json() == {"message": "ok"}
    event = events()[-1]
    assert event["source"] == "message"
    assert event["message"] == {"n": 3, "word": "hi"}


def test_every_response_carries_hostname_and_version(client):
    response = client.get("/hello")
    assert response.headers["X-HOSTNAME"] == "test-host"
    assert response.headers["X-APP-VERSION"] == "test-version"


def test_liveness_and_readiness_answer(client):
    assert client.get("/_hipflask/live").status_code == 200
    assert client.get("/_hipflask/ready").get_json()["redis"] == "ok"


def test_results_are_reused_within_the_cache_age(build_app):
    from diagnostic.wsgi import build
    client = build_app(build, DIAGNOSTIC_TARGETS="", DIAGNOSTIC_CACHE_SECONDS="60").test_client()
    first = client.get("/diagnostic").get_json()["checked_at"]
    assert client.get("/diagnostic").get_json()["checked_at"] == first


@pytest.fixture
def slow_service():
    """A real HTTP service whose readiness answers after 0.4 s."""
    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(0.4)
            body = b'{"status": "ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_request_past_the_cache_age_is_answered_at_once_while_a_new_round_runs(build_app, slow_service):
    from diagnostic.wsgi import build
    client = build_app(build, DIAGNOSTIC_TARGETS=f"store={slow_service}", DIAGNOSTIC_TIMEOUT="2",
                       DIAGNOSTIC_CACHE_SECONDS="0.5").test_client()
    first = client.get("/diagnostic").get_json()["checked_at"]  # no results yet: this one waits for the round
    wait_until(lambda: time.time() - first > 0.6, 5, "the results to pass the cache age")
    started = time.monotonic()
    assert client.get("/diagnostic").get_json()["checked_at"] == first
    assert time.monotonic() - started < 0.3  # the 0.4 s round runs behind it
    wait_until(lambda: client.get("/diagnostic").get_json()["checked_at"] > first, 5, "the new round's results")


def test_results_are_fresh_without_a_cache_age(client):
    first = client.get("/diagnostic").get_json()["checked_at"]
    wait_until(lambda: client.get("/diagnostic").get_json()["checked_at"] > first, 5, "a fresh check")


def test_diagnostic_reports_its_own_uptime_and_restart_count(build_app):
    from diagnostic.wsgi import build
    app = build_app(build, DIAGNOSTIC_TARGETS="", HIPFLASK_RESTARTS="2", DIAGNOSTIC_CACHE_SECONDS="0")
    check = app.test_client().get("/diagnostic").get_json()["checks"]["diagnostic"]
    assert check["restarts"] == 2
    assert check["uptime_seconds"] >= 0


def test_diagnostic_shows_the_native_supervisors_process_table(build_app, tmp_path):
    from diagnostic.wsgi import build
    state = tmp_path / "stack.json"
    state.write_text(json.dumps({"pid": 41, "started_at": 1.0, "processes": {
        "redis": {"pid": 42, "state": "running", "started_at": 1.0, "restarts": 3},
        "gateway": {"pid": 43, "state": "waiting", "started_at": 1.0, "restarts": 1}}}))
    app = build_app(build, DIAGNOSTIC_TARGETS="", STACK_STATE_FILE=str(state))
    stack = app.test_client().get("/diagnostic").get_json()["stack"]
    assert stack["supervisor_pid"] == 41
    assert stack["processes"]["redis"]["restarts"] == 3
    assert stack["processes"]["redis"]["uptime_seconds"] > 0
    assert stack["processes"]["gateway"] == {"state": "waiting", "pid": 43, "restarts": 1, "uptime_seconds": None}


def test_diagnostic_leaves_the_process_table_out_without_a_state_file(client):
    assert "stack" not in client.get("/diagnostic").get_json()


def test_events_lost_while_redis_is_down_are_counted_in_the_diagnostic(build_app):
    """A store write with Redis down succeeds; the lost event shows as the store's redis_failures."""
    import threading

    from werkzeug.serving import make_server

    from store.wsgi import build as build_store
    store = build_app(build_store, REDIS_URL="redis://127.0.0.1:1/0", REDIS_TIMEOUT="0.2")
    assert store.test_client().post("/store/things", json={"a": 1}).status_code == 200
    server = make_server("127.0.0.1", 0, store, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        from diagnostic.wsgi import build as build_diagnostic
        diagnostic = build_app(build_diagnostic, DIAGNOSTIC_TARGETS=f"store=http://127.0.0.1:{server.server_port}",
                               DIAGNOSTIC_CACHE_SECONDS="0")
        body = diagnostic.test_client().get("/diagnostic").get_json()
        assert body["checks"]["store"]["redis_failures"]["events"] >= 1
    finally:
        server.shutdown()


def test_one_round_answers_every_request_with_its_own_uid(build_app):
    from diagnostic.wsgi import build
    client = build_app(build, DIAGNOSTIC_TARGETS="", DIAGNOSTIC_CACHE_SECONDS="60").test_client()
    alice = client.get("/diagnostic", headers={"Uid": "alice"}).get_json()
    bob = client.get("/diagnostic", headers={"Uid": "bob"}).get_json()
    assert (alice.pop("uid"), bob.pop("uid")) == ("alice", "bob")
    assert alice == bob


def test_one_round_answers_jsonp_with_the_same_summary(build_app):
    from diagnostic.wsgi import build
    client = build_app(build, DIAGNOSTIC_TARGETS="", DIAGNOSTIC_CACHE_SECONDS="60").test_client()
    plain = client.get("/diagnostic").get_data(as_text=True)
    wrapped = client.get("/diagnostic?callback=cb")
    assert wrapped.mimetype == "application/javascript"
    assert wrapped.get_data(as_text=True) == f"cb({plain.strip()});"


def test_a_changed_process_table_shows_in_the_next_round(build_app, tmp_path):
    from diagnostic.wsgi import build
    state = tmp_path / "stack.json"

    def write(restarts):
        state.write_text(json.dumps({"pid": 41, "processes": {
            "redis": {"pid": 42, "state": "running", "started_at": 1.0, "restarts": restarts}}}))
    write(0)
    client = build_app(build, DIAGNOSTIC_TARGETS="", STACK_STATE_FILE=str(state),
                       DIAGNOSTIC_CACHE_SECONDS="0.2").test_client()
    assert client.get("/diagnostic").get_json()["stack"]["processes"]["redis"]["restarts"] == 0
    write(1)
    wait_until(lambda: client.get("/diagnostic").get_json()["stack"]["processes"]["redis"]["restarts"] == 1, 5,
               "the next round to read the new process table")
