"""The gateway and the diagnostic service, through the gateway only."""
import requests

from stacks import SERVICES
from support import assert_error, wait_until


def test_diagnostic_lists_every_service_and_redis_as_healthy(gateway):
    response = requests.get(f"{gateway}/diagnostic")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert {name: check["status"] for name, check in checks.items()} == {
        name: "ok" for name in (*SERVICES, "redis")}


def test_root_answers_the_diagnostic_summary(gateway):
    body = requests.get(f"{gateway}/").json()
    assert body["message"] == "ok"
    assert body["uid"] == "DEFAULT"


def test_every_family_answers_with_hostname_and_version_headers(gateway):
    for path in ("/diagnostic", "/hello", "/store", "/kv/missing-key", "/list/anything", "/render/hello.json"):
        response = requests.get(f"{gateway}{path}")
        assert response.headers.get("X-HOSTNAME"), path
        assert "X-APP-VERSION" in response.headers, path


def test_request_id_is_passed_through(gateway):
    response = requests.get(f"{gateway}/echo", headers={"X-Request-ID": "trace-123"})
    assert response.headers["X-Request-ID"] == "trace-123"
    assert response.json()["X-Request-Id"] == "trace-123"


def test_request_id_is_created_when_absent(gateway):
    assert len(requests.get(f"{gateway}/hello").headers["X-Request-ID"]) == 32


def test_hello_handler_answers_world(gateway):
    assert requests.get(f"{gateway}/hello").text == "World!"


def test_diagnostic_echo_supports_jsonp(gateway):
    response = requests.get(f"{gateway}/diagnostic/echo", params={"a": "1", "callback": "cb"})
    assert response.headers["Content-Type"].startswith("application/javascript")
    assert response.text == 'cb({"a":1});'


def test_bad_callback_is_refused_and_not_echoed(gateway):
    response = requests.get(f"{gateway}/diagnostic/echo", params={"callback": "alert(1)//"})
    assert response.status_code == 400
    assert "alert" not in response.text


def test_diagnostic_fail_gives_500_with_eid(gateway):
    response = requests.get(f"{gateway}/diagnostic/fail", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.json()["eid"]


def test_local_publish_answers_ok(gateway):
    response = requests.post(f"{gateway}/message/local_publish", json={"hello": "world"})
    assert response.json() == {"message": "ok"}


def test_gateway_ping_answers_from_nginx(gateway):
    response = requests.get(f"{gateway}/_gateway/ping")
    assert response.text == "ok\n"
    assert "X-HOSTNAME" not in response.headers


def test_body_over_the_limit_gets_a_json_413(gateway, stack):
    response = requests.post(f"{gateway}/message/local_publish", data=b"x" * (2 * 1024 * 1024),
                             headers={"Content-Type": "application/octet-stream"})
    assert_error(response, 413, "request_entity_too_large", extra=("service",))


def test_missing_static_file_is_a_404(gateway):
    assert requests.get(f"{gateway}/static/no-such-file.css").status_code == 404


def test_a_stopped_service_turns_diagnostic_into_500_naming_it_while_others_answer(stack):
    stack.kill("kv")
    try:
        def kv_reported_down():
            response = requests.get(f"{stack.url}/diagnostic", timeout=5)
            return response.status_code == 500 and response.json()["failed"] == ["kv"]
        wait_until(kv_reported_down, 30, "diagnostic to report kv down")
        down = requests.get(f"{stack.url}/kv/anything")
        assert down.status_code in (502, 503)
        assert down.json()["service"] == "kv"
        assert requests.get(f"{stack.url}/hello").text == "World!"
    finally:
        stack.start("kv")
