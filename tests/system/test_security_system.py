"""Safe in front of browsers, through the gateway: token mode (the `token_stack`) and uid mode (the `stack`)."""
from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
import requests

from support import AUTH_KEYS, ROTATED_AUTH_KEYS, bearer, pipelined_gets, token, wait_until

SECRET_K1 = AUTH_KEYS.split(":", 1)[1]
FOREIGN = {"Origin": "http://evil.example"}


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def forged(claims: dict, secret: str = SECRET_K1, kid: str = "k1") -> str:
    base = {"sub": "alice", "scope": "write", "aud": "hipflask", "exp": int(time.time()) + 300}
    return jwt.encode({**base, **claims}, secret, algorithm="HS256", headers={"kid": kid})


def unsigned(claims: dict) -> str:
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    base = {"sub": "alice", "scope": "admin", "aud": "hipflask", "exp": int(time.time()) + 300}
    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{part({**base, **claims})}."


def tampered() -> str:
    header, payload, signature = token("alice", "read").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "admin"
    return f"{header}.{base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b'=').decode()}.{signature}"


BAD_TOKENS = {
    "expired": lambda: forged({"exp": int(time.time()) - 60}),
    "wrong_audience": lambda: forged({"aud": "another-service"}),
    "wrong_key": lambda: forged({}, secret="an-unknown-secret-of-32-bytes-or-more"),
    "unknown_kid": lambda: forged({}, kid="k9"),
    "alg_none": lambda: unsigned({}),
    "tampered": tampered,
}


# ---- token mode: identity ----------------------------------------------------------------------

def test_a_spoofed_uid_reads_nothing_of_the_namespace_it_names(token_stack):
    url = token_stack.url
    key = unique("k")
    assert requests.put(f"{url}/kv/{key}", data=b"alice's", headers=bearer("alice")).status_code == 200
    answer = requests.get(f"{url}/kv/{key}", headers={"Uid": "alice", **bearer("mallory")})
    assert answer.status_code == 404
    assert requests.get(f"{url}/kv/{key}", headers={"Uid": "alice"}).status_code == 401


def test_alice_cannot_touch_bob_data_in_the_store(token_stack):
    url, name = token_stack.url, unique("s")
    assert requests.post(f"{url}/store/{name}", json={"v": 1}, headers=bearer("bob")).status_code == 200
    assert requests.get(f"{url}/store/{name}", headers={"Uid": "bob", **bearer("alice")}).json() == []
    requests.delete(f"{url}/store/{name}/1", headers={"Uid": "bob", **bearer("alice")})
    assert requests.get(f"{url}/store/{name}/1", headers=bearer("bob")).json()["v"] == 1


def test_alice_cannot_touch_bob_data_in_kv(token_stack):
    url, key = token_stack.url, unique("k")
    requests.put(f"{url}/kv/{key}", data=b"bob's", headers=bearer("bob"))
    requests.put(f"{url}/kv/{key}", data=b"alice's", headers={"Uid": "bob", **bearer("alice")})
    assert requests.get(f"{url}/kv/{key}", headers=bearer("bob")).content == b"bob's"


def test_alice_cannot_touch_bob_files(token_stack):
    url, path = token_stack.url, f"{unique('d')}/doc.txt"
    requests.put(f"{url}/fs/{path}", data=b"bob's", headers=bearer("bob"))
    assert requests.get(f"{url}/fs/{path}", headers={"Uid": "bob", **bearer("alice")}).status_code == 404
    assert requests.delete(f"{url}/fs/{path}", headers=bearer("alice")).status_code == 404
    assert requests.get(f"{url}/fs/{path}", headers=bearer("bob")).content == b"bob's"


def test_alice_cannot_see_bob_uploader_partition(token_stack):
    url, partition = token_stack.url, unique("p")
    answer = requests.post(f"{url}/{partition}", files={"file": ("a.txt", b"bob's")},
                           headers={"Accept": "application/json", **bearer("bob")})
    assert answer.status_code == 200
    assert requests.get(f"{url}/list/{partition}?format=json", headers=bearer("alice")).json() == []
    assert requests.get(f"{url}/dl/{partition}/a.txt", headers=bearer("alice")).status_code == 404
    assert requests.get(f"{url}/dl/{partition}/a.txt", headers=bearer("bob")).content == b"bob's"


def test_a_read_token_cannot_write(token_stack):
    answer = requests.post(f"{token_stack.url}/store/{unique('s')}", json={}, headers=bearer("alice", "read"))
    assert answer.status_code == 403
    assert answer.json()["code"] == "insufficient_scope"


@pytest.mark.parametrize("cause", sorted(BAD_TOKENS))
def test_a_bad_token_is_401_with_one_body_for_every_cause(token_stack, cause):
    answer = requests.get(f"{token_stack.url}/store", headers={"Authorization": f"Bearer {BAD_TOKENS[cause]()}"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="hipflask"'
    body = answer.json()
    assert (body["code"], body["message"]) == ("unauthorized", "a valid bearer token is required")


def test_both_keys_verify_during_a_rotation_and_the_first_signs(token_stack):
    url = token_stack.url
    old = token("alice", "read", keys=AUTH_KEYS)
    new = token("alice", "read", keys=ROTATED_AUTH_KEYS)
    assert jwt.get_unverified_header(new)["kid"] == "k2"
    for value in (old, new):
        assert requests.get(f"{url}/store", headers={"Authorization": f"Bearer {value}"}).status_code == 200
    minted = requests.post(f"{url}/auth/tokens", json={"sub": "carol", "scope": "read"},
                           headers=bearer("root", "admin", keys=ROTATED_AUTH_KEYS))
    assert minted.status_code == 201
    assert jwt.get_unverified_header(minted.json()["token"])["kid"] == "k2"


def test_a_public_namespace_takes_writes_without_a_token(token_stack):
    name = unique("s")
    answer = requests.post(f"{token_stack.url}/store/{name}", json={"msg": "hi"}, headers={"Uid": "guestbook"})
    assert answer.status_code == 200
    assert requests.get(f"{token_stack.url}/store/{name}", headers={"Uid": "guestbook"}).json()[0]["msg"] == "hi"


def test_a_read_only_public_namespace_refuses_writes_without_a_token(token_stack):
    url = token_stack.url
    assert requests.get(f"{url}/store", headers={"Uid": "docs"}).status_code == 200
    assert requests.post(f"{url}/store/{unique('s')}", json={}, headers={"Uid": "docs"}).status_code == 401


def test_default_is_not_public_unless_listed(token_stack):
    assert requests.get(f"{token_stack.url}/store").status_code == 401


def test_access_token_in_the_query_reads_and_is_private(token_stack):
    url, key = token_stack.url, unique("k")
    requests.put(f"{url}/kv/{key}", data=b"v", headers=bearer("alice"))
    answer = requests.get(f"{url}/kv/{key}", params={"access_token": token("alice", "read")})
    assert answer.content == b"v"
    assert answer.headers["Cache-Control"].startswith("private")


def test_access_token_in_the_query_does_not_write(token_stack):
    answer = requests.put(f"{token_stack.url}/kv/{unique('k')}", data=b"v", params={"access_token": token("alice")})
    assert answer.status_code == 401


def test_jsonp_carries_data_only_with_a_valid_access_token(token_stack):
    url, name = token_stack.url, unique("s")
    requests.post(f"{url}/store/{name}", json={"v": 7}, headers=bearer("alice"))
    good = requests.get(f"{url}/store/{name}/1", params={"callback": "cb", "access_token": token("alice", "read")})
    assert good.text.startswith("cb(") and '"v":7' in good.text
    bad = requests.get(f"{url}/store/{name}/1", params={"callback": "cb"})
    assert bad.status_code == 401 and '"v":7' not in bad.text


def test_the_access_log_never_holds_an_access_token(token_stack):
    value = token("alice", "read")
    marker = unique("m")
    requests.get(f"{token_stack.url}/store", params={"marker": marker, "access_token": value})
    line = wait_until(lambda: next((row for row in token_stack.gateway_log().splitlines() if marker in row), None),
                      20, "the request in the gateway's access log")
    assert "access_token=[redacted]" in line and value not in token_stack.gateway_log()


def test_health_and_the_diagnostic_summary_stay_open(token_stack):
    body = requests.get(f"{token_stack.url}/diagnostic").json()
    assert body["auth_mode"] == "token" and body["warnings"] == []


def test_echo_needs_a_token(token_stack):
    assert requests.get(f"{token_stack.url}/echo").status_code == 401
    assert requests.get(f"{token_stack.url}/diagnostic/echo?a=1").status_code == 401


def test_an_admin_token_writes_a_template_and_a_write_token_cannot(token_stack):
    url, name = token_stack.url, f"{unique('t')}.txt"
    assert requests.put(f"{url}/template/{name}", data=b"hi", headers=bearer("alice", "write")).status_code == 403
    assert requests.put(f"{url}/template/{name}", data=b"hi", headers=bearer("root", "admin")).status_code == 201
    assert requests.put(f"{url}/template/{name}", data=b"again",
                        headers={"Authorization": "Bearer test-token"}).status_code == 200  # RENDER_TOKEN


def test_an_admin_token_mints_a_narrower_token_over_http(token_stack):
    minted = requests.post(f"{token_stack.url}/auth/tokens", json={"sub": "dave", "scope": "write", "ttl": "10m"},
                           headers=bearer("root", "admin"))
    assert minted.status_code == 201
    value = minted.json()["token"]
    answer = requests.post(f"{token_stack.url}/store/{unique('s')}", json={},
                           headers={"Authorization": f"Bearer {value}"})
    assert answer.status_code == 200


# ---- abuse limits ------------------------------------------------------------------------------

def test_over_the_rate_limit_a_client_gets_429_with_retry_after(token_stack):
    client = {"X-Forwarded-For": f"203.0.113.{uuid.uuid4().int % 200 + 1}"}
    answers = pipelined_gets(token_stack.url, "/static/no-such-file", 400, client)  # burst 200 at 100r/s
    limited = [answer for answer in answers if answer.status == 429]
    assert limited, f"400 requests at once never met the 100r/s limit: {sorted({a.status for a in answers})}"
    assert limited[0].headers["Retry-After"] == "1" and json.loads(limited[0].body)["code"] == "rate_limited"
    assert requests.get(f"{token_stack.url}/static/no-such-file").status_code == 404  # other clients are not limited


def logged_address(running, address: str) -> str:
    """The access log line of a request sent with `X-Forwarded-For: address`, starting with the
    address the gateway logged (a LOG_FORMAT=json line's `remote` is put in front)."""
    marker = unique("m")
    requests.get(f"{running.url}/diagnostic?{marker}", headers={"X-Forwarded-For": address})
    line = wait_until(lambda: next((row for row in running.gateway_log().splitlines() if marker in row), None),
                      20, "the request in the gateway's access log")
    text = line.split("| ", 1)[-1]
    if text.startswith("{"):
        return f"{json.loads(text)['remote']} {text}"
    return line


def test_forwarded_for_names_the_client_when_it_comes_from_a_trusted_proxy(token_stack):
    assert logged_address(token_stack, "198.51.100.7").split("| ", 1)[-1].startswith("198.51.100.7 ")


def test_forwarded_for_from_an_untrusted_peer_is_ignored(stack):
    assert "198.51.100.7 " not in logged_address(stack, "198.51.100.7")


# ---- cross-origin (both modes) -----------------------------------------------------------------

@pytest.mark.parametrize("path", ["/store/{name}", "/kv/{name}", "/{name}"])
def test_a_form_post_from_a_foreign_origin_is_refused(gateway, path):
    answer = requests.post(gateway + path.format(name=unique("x")), data={"a": "1"}, headers=FOREIGN)
    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden_origin"


def test_a_cross_site_fetch_without_origin_is_refused(gateway):
    answer = requests.post(f"{gateway}/kv/{unique('x')}", data=b"1", headers={"Sec-Fetch-Site": "cross-site"})
    assert answer.status_code == 403


def test_a_post_from_the_gateway_own_origin_or_without_origin_passes(gateway):
    own = {"Origin": gateway}
    assert requests.post(f"{gateway}/kv/{unique('x')}", data={"a": "1"}, headers=own).status_code == 200
    assert requests.post(f"{gateway}/kv/{unique('x')}", data={"a": "1"}).status_code == 200


def test_a_foreign_write_is_refused_in_token_mode_even_with_a_token(token_stack):
    answer = requests.post(f"{token_stack.url}/store/{unique('s')}", json={}, headers={**FOREIGN, **bearer()})
    assert answer.status_code == 403 and answer.json()["code"] == "forbidden_origin"


def test_an_allowed_origin_gets_cors_headers_and_a_preflight(token_stack, origins):
    origin = {"Origin": origins["allowed"]}
    answer = requests.get(f"{token_stack.url}/store", headers={**origin, **bearer()})
    assert answer.headers["Access-Control-Allow-Origin"] == origins["allowed"]
    assert "X-Total-Count" in answer.headers["Access-Control-Expose-Headers"]
    preflight = requests.options(f"{token_stack.url}/store/x/1", headers={
        **origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization,if-match"})
    assert preflight.status_code == 204
    assert "PUT" in preflight.headers["Access-Control-Allow-Methods"]
    assert "If-Match" in preflight.headers["Access-Control-Allow-Headers"]
    assert int(preflight.headers["Access-Control-Max-Age"]) > 0


def test_an_error_page_of_the_gateway_carries_cors_headers(token_stack, origins):
    answer = requests.post(f"{token_stack.url}/kv/{unique('k')}", data=b"x" * (2 * 1024 * 1024),
                           headers={"Origin": origins["allowed"], **bearer()})
    assert answer.status_code == 413
    assert answer.headers["Access-Control-Allow-Origin"] == origins["allowed"]


def test_without_cors_origins_no_cors_headers_are_sent(gateway):
    answer = requests.get(f"{gateway}/store", headers={"Origin": "http://localhost:5173"})
    assert "Access-Control-Allow-Origin" not in answer.headers


# ---- user content (uid mode) -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["page.html", "image.svg"])
def test_an_uploaded_active_file_downloads_sandboxed_as_an_attachment(gateway, name):
    path = f"{unique('u')}/{name}"
    requests.put(f"{gateway}/fs/{path}", data=b"<script>alert(1)</script>")
    answer = requests.get(f"{gateway}/fs/{path}")
    assert answer.headers["Content-Disposition"].startswith("attachment")
    assert answer.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"


def test_an_html_kv_value_downloads_sandboxed_as_an_attachment(gateway):
    key = unique("k")
    requests.put(f"{gateway}/kv/{key}", data=b"<script>alert(1)</script>", headers={"Content-Type": "text/html"})
    answer = requests.get(f"{gateway}/kv/{key}")
    assert answer.headers["Content-Disposition"].startswith("attachment")
    assert answer.headers["Content-Security-Policy"].startswith("sandbox")


def test_echo_never_hands_cookies_or_authorization_to_a_jsonp_page(gateway):
    answer = requests.get(f"{gateway}/echo?callback=steal",
                          headers={"Cookie": "session=c00k1e", "Authorization": "Bearer s3cr3t"})
    assert answer.text.startswith("steal(") and "c00k1e" not in answer.text and "s3cr3t" not in answer.text


def test_uid_mode_is_reported_with_a_warning(gateway):
    body = requests.get(f"{gateway}/diagnostic").json()
    assert body["auth_mode"] == "uid"
    assert any("Uid" in warning for warning in body["warnings"])
