"""kv values are user content: never run as the origin; in token mode each token sees its own namespace."""
import pytest

from support import AUTH_KEYS, bearer

from kv.wsgi import build


@pytest.fixture
def token_client(build_app):
    return build_app(build, AUTH_MODE="token", AUTH_KEYS=AUTH_KEYS).test_client()


def test_an_html_value_is_an_attachment_in_a_sandbox(client):
    client.put("/kv/page", data=b"<script>alert(1)</script>", headers={"Content-Type": "text/html"})
    answer = client.get("/kv/page")
    assert answer.headers["Content-Disposition"].startswith("attachment")
    assert answer.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_a_plain_value_is_inline_in_a_sandbox(client):
    client.put("/kv/note", data=b"hello", headers={"Content-Type": "text/plain"})
    answer = client.get("/kv/note")
    assert "Content-Disposition" not in answer.headers
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_an_inline_prefix_shows_html_inline_still_sandboxed(build_app):
    client = build_app(build, INLINE_PREFIXES="/kv/site/").test_client()
    client.put("/kv/site/index", data=b"<h1>hi</h1>", headers={"Content-Type": "text/html"})
    answer = client.get("/kv/site/index")
    assert "Content-Disposition" not in answer.headers
    assert answer.headers["Content-Security-Policy"].startswith("sandbox")


def test_alice_cannot_read_bob_value(token_client):
    token_client.put("/kv/secret", data=b"bob's", headers=bearer("bob"))
    answer = token_client.get("/kv/secret", headers={"Uid": "bob", **bearer("alice")})
    assert answer.status_code == 404


def test_a_read_token_cannot_write_a_value(token_client):
    answer = token_client.put("/kv/x", data=b"1", headers=bearer("alice", "read"))
    assert answer.status_code == 403
    assert answer.get_json()["code"] == "insufficient_scope"
