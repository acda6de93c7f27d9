"""Cross-origin front-ends and hostile content in a real browser (headless Chromium, Playwright).

Pages of the test's own origins (`origins`: one allowed by the token stack's CORS_ORIGINS, one not)
are served by a tiny local HTTP server on their own ports.
"""
from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests

from support import bearer, token, wait_until

pytestmark = pytest.mark.browser
PAGE = b"<!doctype html><meta charset=utf-8><title>front-end</title><p>a front-end on another origin</p>"


class FrontEnd(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def front_ends(origins):
    """A local HTTP server on each of `origins`' ports."""
    servers = [ThreadingHTTPServer(("127.0.0.1", urlsplit(origin).port), FrontEnd) for origin in origins.values()]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield origins
    for server in servers:
        server.shutdown()
        server.server_close()


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


LIST_AND_UPDATE = """async ([base, auth]) => {
    const headers = {Authorization: auth};
    const list = await fetch(base + "?_limit=1", {headers});
    const items = await list.json();
    const one = await fetch(base + "/" + items[0].id, {headers});
    const etag = one.headers.get("ETag");
    const put = await fetch(base + "/" + items[0].id, {
        method: "PUT", headers: {...headers, "Content-Type": "application/json", "If-Match": etag},
        body: JSON.stringify({name: "renamed"})});
    const stale = await fetch(base + "/" + items[0].id, {
        method: "PUT", headers: {...headers, "Content-Type": "application/json", "If-Match": etag},
        body: JSON.stringify({name: "lost update"})});
    return {total: list.headers.get("X-Total-Count"), etag, put: put.status, stale: stale.status};
}"""

FETCH_OR_FAIL = """async ([url, auth]) => {
    try { const answer = await fetch(url, {headers: {Authorization: auth}}); return "read " + answer.status; }
    catch (error) { return "refused"; }
}"""


def test_a_front_end_on_an_allowed_origin_lists_and_updates_with_if_match(token_stack, front_ends, page):
    store = f"{token_stack.url}/store/{unique('s')}"
    for number in range(3):
        assert requests.post(store, json={"n": number}, headers=bearer("alice")).status_code == 200
    page.goto(front_ends["allowed"] + "/app.html")
    result = page.evaluate(LIST_AND_UPDATE, [store, f"Bearer {token('alice')}"])
    assert result["total"] == "3" and result["etag"]
    assert (result["put"], result["stale"]) == (200, 412)
    assert requests.get(f"{store}/1", headers=bearer("alice")).json()["name"] == "renamed"


def test_the_same_front_end_on_another_origin_is_refused(token_stack, front_ends, page):
    page.goto(front_ends["refused"] + "/app.html")
    assert page.evaluate(FETCH_OR_FAIL, [f"{token_stack.url}/store", f"Bearer {token('alice')}"]) == "refused"


def test_a_cross_site_form_post_is_refused(gateway, front_ends, page):
    store = unique("s")
    page.goto(front_ends["refused"] + "/attack.html")
    with page.expect_navigation():
        page.evaluate("""(action) => {
            const form = document.createElement("form");
            form.method = "post"; form.action = action;
            const field = document.createElement("input");
            field.name = "owned"; field.value = "1"; form.appendChild(field);
            document.body.appendChild(form); form.submit();
        }""", f"{gateway}/store/{store}")
    assert "forbidden_origin" in page.content()
    assert requests.get(f"{gateway}/store/{store}").json() == []


def script_writing(key: str) -> bytes:
    """A page whose script, if it ever runs as the gateway's origin, stores `ran` under /kv/<key>."""
    return (f"<html><body><script>fetch('/kv/{key}', {{method: 'PUT', body: 'ran'}})</script></body></html>"
            ).encode()


def svg_writing(key: str) -> bytes:
    return (f'<svg xmlns="http://www.w3.org/2000/svg"><script>fetch("/kv/{key}", '
            f'{{method: "PUT", body: "ran"}})</script></svg>').encode()


def visit(page, url: str) -> None:
    """Open `url` as a user following a link would (a download counts as a visit)."""
    try:
        page.goto(url)
    except Exception as exc:  # an attachment aborts the navigation: that is the point
        assert "ERR_ABORTED" in str(exc) or "Download" in str(exc), exc


def ran(gateway: str, key: str) -> bool:
    return requests.get(f"{gateway}/kv/{key}").status_code == 200


@pytest.mark.parametrize("kind", ["html", "svg", "kv"])
def test_uploaded_active_content_runs_no_script_in_the_origin(gateway, stack, page, kind):
    victim, control = unique("victim"), unique("control")
    if kind == "kv":
        url = f"{gateway}/kv/{unique('page')}"
        requests.put(url, data=script_writing(victim), headers={"Content-Type": "text/html"})
    else:
        url = f"{gateway}/fs/{unique('u')}/content.{kind}"
        requests.put(url, data=script_writing(victim) if kind == "html" else svg_writing(victim))
    visit(page, url)
    # The control: the same script in an operator's static page does run, so the detector works.
    stack.put_static(f"{control}.html", script_writing(control))
    page.goto(f"{gateway}/static/{control}.html")
    wait_until(lambda: ran(gateway, control), 15, "the control page's script to run")
    assert not ran(gateway, victim)
