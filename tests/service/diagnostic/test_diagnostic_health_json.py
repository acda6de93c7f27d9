"""/diagnostic as application/health+json (IETF draft "Health Check Response Format for HTTP
APIs"), /readyz, and the gateway figures in the diagnostic service's metrics."""
import re
import threading
from datetime import datetime

from werkzeug.serving import make_server

from support import AUTH_KEYS

from diagnostic.gateway_status import parse_stub_status
from diagnostic.wsgi import build

HEALTH = {"Accept": "application/health+json"}
STATUSES = {"pass", "warn", "fail"}


def assert_health_json_shape(body: dict) -> None:
    """The draft's shape: status, version, checks keyed `<component>:<measurement>`, each a list."""
    assert body["status"] in STATUSES
    assert isinstance(body["version"], str) and isinstance(body["releaseId"], str)
    assert isinstance(body["checks"], dict) and body["checks"]
    for key, entries in body["checks"].items():
        assert re.fullmatch(r"[a-z]+:(responseTime|status)", key), key
        assert isinstance(entries, list) and entries
        for entry in entries:
            assert entry["status"] in STATUSES
            assert isinstance(entry["componentId"], str) and entry["componentId"]
            datetime.fromisoformat(entry["time"].replace("Z", "+00:00"))
            if key.endswith(":responseTime"):
                assert isinstance(entry["observedValue"], (int, float)) and entry["observedUnit"] == "ms"


def test_health_json_passes_with_every_check_ok(client):
    response = client.get("/diagnostic", headers=HEALTH)
    assert response.status_code == 200
    assert response.mimetype == "application/health+json"
    body = response.get_json(force=True)
    assert_health_json_shape(body)
    assert body["status"] == "pass"
    assert body["releaseId"] == "test-version"
    assert body["checks"]["redis:status"][0]["status"] == "pass"
    assert body["checks"]["diagnostic:status"][0]["componentId"] == "test-host"


def test_health_json_fails_with_503_when_a_service_is_unreachable(build_app):
    app = build_app(build, DIAGNOSTIC_TARGETS="store=http://127.0.0.1:9", DIAGNOSTIC_TIMEOUT="0.5",
                    DIAGNOSTIC_CACHE_SECONDS="0")
    response = app.test_client().get("/diagnostic", headers=HEALTH)
    assert response.status_code == 503
    body = response.get_json(force=True)
    assert_health_json_shape(body)
    assert body["status"] == "fail"
    assert body["checks"]["store:status"][0]["status"] == "fail"
    assert body["checks"]["store:status"][0]["output"] == "ConnectionError"


def test_health_json_warns_when_redis_is_down_but_everything_serves(build_app):
    app = build_app(build, DIAGNOSTIC_TARGETS="", REDIS_URL="redis://127.0.0.1:1/0", REDIS_TIMEOUT="0.2",
                    DIAGNOSTIC_CACHE_SECONDS="0")
    response = app.test_client().get("/diagnostic", headers=HEALTH)
    assert response.status_code == 200
    assert response.get_json(force=True)["status"] == "warn"
    assert response.get_json(force=True)["checks"]["redis:status"][0]["status"] == "warn"


def test_health_json_warns_when_a_volume_is_below_the_warning_level(build_app, tmp_path):
    (tmp_path / "data").mkdir()
    store = build_app(build, DIAGNOSTIC_TARGETS="")  # any service's /_hipflask/ready, over a real socket
    server = make_server("127.0.0.1", 0, store)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        app = build_app(build, DIAGNOSTIC_TARGETS=f"store=http://127.0.0.1:{server.port}",
                        DIAGNOSTIC_VOLUME_WARN="1000000g", DIAGNOSTIC_CACHE_SECONDS="0")
        body = app.test_client().get("/diagnostic", headers=HEALTH).get_json(force=True)
    finally:
        server.shutdown()
    assert body["status"] == "warn"
    assert "bytes free" in body["checks"]["store:status"][0]["output"]


def test_plain_requests_keep_the_original_body(client):
    response = client.get("/diagnostic", headers={"Accept": "*/*"})
    assert response.mimetype == "application/json"
    assert response.get_json()["message"] == "ok"


def test_readyz_passes_when_every_service_has_a_ready_replica(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json(force=True)["status"] == "pass"


def test_readyz_fails_naming_a_service_without_a_ready_replica(build_app):
    app = build_app(build, DIAGNOSTIC_TARGETS="kv=http://127.0.0.1:9", DIAGNOSTIC_TIMEOUT="0.5",
                    DIAGNOSTIC_CACHE_SECONDS="0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json(force=True) == {**response.get_json(force=True), "status": "fail",
                                              "output": "no ready replica: kv"}


def test_stub_status_text_is_parsed():
    text = ("Active connections: 3 \nserver accepts handled requests\n 10 10 42 \n"
            "Reading: 0 Writing: 1 Waiting: 2 \n")
    assert parse_stub_status(text) == {"active": 3, "accepted": 10, "handled": 10, "requests": 42,
                                       "reading": 0, "writing": 1, "waiting": 2}


def test_metrics_say_the_gateway_is_down_when_its_status_does_not_answer(build_app):
    app = build_app(build, DIAGNOSTIC_TARGETS="", GATEWAY_STATUS_URL="http://127.0.0.1:9/_gateway/status")
    text = app.test_client().get("/_hipflask/metrics").get_data(as_text=True)
    assert "\nhipflask_gateway_up 0.0\n" in text


def test_uid_mode_seen_from_this_machine_passes(client):
    entry = client.get("/diagnostic", headers=HEALTH).get_json(force=True)["checks"]["access:status"][0]
    assert (entry["observedValue"], entry["status"]) == ("uid", "pass")


def test_uid_mode_seen_from_another_machine_warns(client):
    body = client.get("/diagnostic", headers={**HEALTH, "X-Real-IP": "203.0.113.7"}).get_json(force=True)
    assert body["status"] == "warn"
    assert "AUTH_MODE=token" in body["checks"]["access:status"][0]["output"]


def test_token_mode_seen_from_another_machine_passes(build_app):
    client = build_app(build, DIAGNOSTIC_TARGETS="", AUTH_MODE="token", AUTH_KEYS=AUTH_KEYS).test_client()
    body = client.get("/diagnostic", headers={**HEALTH, "X-Real-IP": "203.0.113.7"}).get_json(force=True)
    assert body["checks"]["access:status"][0]["status"] == "pass"


def test_one_round_answers_local_and_remote_clients_each_their_access_status(build_app):
    client = build_app(build, DIAGNOSTIC_TARGETS="", DIAGNOSTIC_CACHE_SECONDS="60").test_client()

    def access_status(address):
        body = client.get("/diagnostic", headers={**HEALTH, "X-Real-IP": address}).get_json(force=True)
        return body["status"], body["checks"]["access:status"][0]["status"]
    assert access_status("127.0.0.1") == ("pass", "pass")
    assert access_status("203.0.113.7") == ("warn", "warn")
    assert access_status("127.0.0.1") == ("pass", "pass")
