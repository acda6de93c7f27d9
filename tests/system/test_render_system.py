"""The render service through the gateway only: the contract, template writes, safety, durability."""
import http.client
import json
import threading
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from support import assert_error, client_session


@pytest.fixture
def token(stack):
    return stack.env["RENDER_TOKEN"]


@pytest.fixture
def templates(gateway, token):
    """store(name, text) -> the name under a folder of this test's own; every template is deleted afterwards."""
    folder = f"system-{uuid.uuid4().hex[:12]}"
    auth = {"Authorization": f"Bearer {token}"}
    stored = []

    def store(name, text):
        full = f"{folder}/{name}"
        response = requests.put(f"{gateway}/template/{full}", data=text.encode(), headers=auth, timeout=10)
        assert response.status_code in (200, 201), response.text
        stored.append(full)
        return full

    store.auth = auth
    yield store
    for full in stored:
        requests.delete(f"{gateway}/template/{full}", headers=auth, timeout=10)


def _raw_get(gateway, path):
    """A GET whose path goes out exactly as written (requests would normalise `..`)."""
    parts = urlsplit(gateway)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_hello_html_with_and_without_a_name(gateway):
    plain = requests.get(f"{gateway}/render/hello.html", timeout=10)
    assert plain.status_code == 200
    assert plain.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<h3>Howdy World!</h3>" in plain.text
    assert "<h3>Howdy Ada!</h3>" in requests.get(f"{gateway}/render/hello.html?name=Ada", timeout=10).text


def test_hello_html_escapes_the_request_data(gateway):
    body = requests.get(f"{gateway}/render/hello.html", params={"name": "<script>"}, timeout=10).text
    assert "&lt;script&gt;" in body and "<script>" not in body


def test_hello_json_with_and_without_a_name(gateway):
    plain = requests.get(f"{gateway}/render/hello.json", timeout=10)
    assert plain.headers["Content-Type"].startswith("application/json")
    assert plain.json() == {"message": "Hello World!"}
    assert requests.post(f"{gateway}/render/hello.json", json={"name": "Ada"}, timeout=10).json() == {
        "message": "Hello Ada!"}


@pytest.mark.parametrize("value", ['q"uote', "back\\slash\\", "new\nline", "</script>", "uni é 😀 \u2028",
                                   '", "admin": true, "x": "'])
def test_hello_json_is_valid_json_for_hostile_names(gateway, value):
    response = requests.get(f"{gateway}/render/hello.json", params={"name": value}, timeout=10)
    assert json.loads(response.text) == {"message": f"Hello {value}!"}


def test_jsonp_forms(gateway):
    as_json = requests.get(f"{gateway}/render/hello.json?name=Ada&callback=cb", timeout=10)
    assert as_json.headers["Content-Type"].startswith("application/javascript")
    assert as_json.text == 'cb({"message": "Hello Ada!"});'
    as_html = requests.get(f"{gateway}/render/hello.html?callback=cb", timeout=10).text
    assert as_html.startswith('cb("') and "Howdy World!" in json.loads(as_html[3:-2])


def test_missing_templates_are_404(gateway):
    missing_json = requests.get(f"{gateway}/render/no-such-template.json", timeout=10)
    assert missing_json.status_code == 404
    assert missing_json.json() == {"message": "No Template no-such-template.json"}
    missing_html = requests.get(f"{gateway}/render/no-such-template.html", timeout=10)
    assert missing_html.status_code == 404
    assert "No Template no-such-template.html" in missing_html.text
    assert requests.get(f"{gateway}/render/no-such-template.json?callback=cb", timeout=10).status_code == 200


def test_template_text_and_raw_template(gateway):
    text = requests.get(f"{gateway}/template/hello.json", timeout=10)
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert text.text == '{"message": "Hello {{ name|default(\'World\') }}!"}\n'
    assert "{{ name|default('World') }}" in requests.get(f"{gateway}/raw_template/hello.html", timeout=10).text


def test_template_list_includes_the_builtins(gateway):
    names = {(entry["name"], entry["folder"]) for entry in requests.get(f"{gateway}/template/", timeout=10).json()}
    assert {("hello.html", "builtin"), ("hello.json", "builtin")} <= names


@pytest.mark.parametrize("path", [
    "/render/../../../../etc/passwd",
    "/render/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/render/..%2f..%2f..%2fetc%2fpasswd",
    "/render/%252e%252e/%252e%252e/etc/passwd",
    "/render/..%5c..%5cetc%5cpasswd",
    "/render//etc/passwd",
    "/template/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/raw_template/..%2f..%2f..%2fetc%2fpasswd",
])
def test_traversal_never_reads_outside_the_template_folders(gateway, path):
    status, body = _raw_get(gateway, path)
    assert status in (400, 404), body[:300]
    assert b"root:" not in body


def test_writes_need_the_token(gateway, token):
    url = f"{gateway}/template/system-unauthorized.html"
    missing = requests.put(url, data=b"x", timeout=10)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert requests.put(url, data=b"x", headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
    assert requests.delete(f"{gateway}/template/hello.html", timeout=10).status_code == 401
    assert requests.get(f"{gateway}/render/system-unauthorized.html", timeout=10).status_code == 404


def test_put_then_render_then_change_then_delete(gateway, templates):
    name = templates("page.html", "<p>v1 {{ who }}</p>")
    assert requests.get(f"{gateway}/render/{name}?who=<b>", timeout=10).text == "<p>v1 &lt;b&gt;</p>"
    templates("page.html", "<p>v2 {{ who }}</p>")
    for _ in range(10):  # every worker and replica sees the change on its very next render
        assert requests.get(f"{gateway}/render/{name}?who=x", timeout=10).text == "<p>v2 x</p>"
    deleted = requests.delete(f"{gateway}/template/{name}", headers=templates.auth, timeout=10)
    assert deleted.status_code == 200
    assert requests.get(f"{gateway}/render/{name}", timeout=10).status_code == 404


def test_put_with_a_syntax_error_is_422_and_keeps_the_old_template(gateway, templates):
    name = templates("kept.txt", "old")
    response = requests.put(f"{gateway}/template/{name}", data=b"ok\n{% if %}", headers=templates.auth, timeout=10)
    assert response.status_code == 422
    assert response.json()["line"] == 2
    assert requests.get(f"{gateway}/render/{name}", timeout=10).text == "old"


def test_user_json_template_stays_valid_json(gateway, templates):
    name = templates("card.json", '{"title": "{{ title }}", "tags": {{ tags|tojson }}}')
    hostile = '"}, "admin": true, "x": {"'
    response = requests.post(f"{gateway}/render/{name}", json={"title": hostile, "tags": ["</script>"]}, timeout=10)
    assert response.json() == {"title": hostile, "tags": ["</script>"]}


def test_sandbox_escape_is_refused(gateway, templates):
    name = templates("escape.html", "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    response = requests.get(f"{gateway}/render/{name}", timeout=10)
    assert response.status_code == 422
    assert response.json()["template"] == name


def test_runaway_loop_stops_with_a_clear_error(gateway, templates):
    name = templates("runaway.html", "{% for i in range(10**9) %}{{ i }}{% endfor %}")
    response = requests.get(f"{gateway}/render/{name}", timeout=10)
    assert_error(response, 422, "render_limit", extra=("template", "line"))


def test_concurrent_renders_see_whole_templates_while_it_is_replaced(gateway, templates):
    versions = ["A" * 20000, "B" * 30000]
    name = templates("swap.txt", versions[0])
    seen, errors = set(), []
    stop = threading.Event()

    def read():
        with client_session() as session:
            while not stop.is_set():
                response = session.get(f"{gateway}/render/{name}", timeout=10)
                if response.status_code != 200:
                    errors.append(response.status_code)
                seen.add(response.text)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for index in range(20):
            templates("swap.txt", versions[index % 2])
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert errors == []
    assert seen and seen <= set(versions)


def test_an_acknowledged_template_survives_kill_9(gateway, stack, templates):
    name = templates("durable.txt", "still here {{ n }}")
    stack.kill("render")
    stack.start("render")
    assert requests.get(f"{gateway}/render/{name}?n=1", timeout=10).text == "still here 1"
