"""Template writes in token mode: an admin token or RENDER_TOKEN; template sources are user content."""
import pytest

from support import AUTH_KEYS, bearer

from render.wsgi import build


@pytest.fixture
def token_client(build_app, auth):
    render_token = auth["Authorization"].removeprefix("Bearer ")
    return build_app(build, AUTH_MODE="token", AUTH_KEYS=AUTH_KEYS, RENDER_TOKEN=render_token).test_client()


def test_an_admin_token_writes_a_template(token_client):
    assert token_client.put("/template/a.txt", data=b"hi", headers=bearer("root", "admin")).status_code == 201


def test_render_token_still_writes_in_token_mode(token_client, auth):
    answer = token_client.put("/template/b.txt", data=b"hi", headers=auth)
    assert answer.status_code == 201


def test_a_write_token_cannot_write_a_template(token_client):
    assert token_client.put("/template/c.txt", data=b"hi", headers=bearer("alice", "write")).status_code == 403


def test_no_token_cannot_write_a_template(token_client):
    assert token_client.put("/template/d.txt", data=b"hi").status_code == 401


def test_a_read_token_renders_with_post(token_client):
    assert token_client.post("/render/hello.html", data={"name": "x"}, headers=bearer(scope="read")).status_code == 200


def test_a_template_source_is_sandboxed(client, put):
    put("page.html", "<script>alert(1)</script>")
    answer = client.get("/raw_template/page.html")
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_a_rendered_page_cannot_be_framed(client):
    answer = client.get("/render/hello.html")
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
