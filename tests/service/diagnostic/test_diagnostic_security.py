"""The diagnostic service's security: echoes without credentials, the mode in /diagnostic, minting tokens."""
import jwt
import pytest

from support import AUTH_KEYS, bearer, token

from diagnostic.wsgi import build


@pytest.fixture
def token_client(build_app):
    return build_app(build, DIAGNOSTIC_TARGETS="", DIAGNOSTIC_CACHE_SECONDS="0", AUTH_MODE="token",
                     AUTH_KEYS=AUTH_KEYS).test_client()


def claims_of(value):
    return jwt.decode(value, options={"verify_signature": False})


@pytest.mark.parametrize("header", ["Cookie", "Authorization", "Proxy-Authorization", "X-Auth-Token"])
def test_echo_never_reflects_credentials(client, header):
    body = client.get("/echo", headers={header: "secret-value", "X-Other": "kept"}).get_json()
    assert header not in body and body["X-Other"] == "kept"


def test_echo_as_jsonp_never_reflects_the_cookie(client):
    text = client.get("/echo?callback=steal", headers={"Cookie": "session=secret-value"}).get_data(as_text=True)
    assert text.startswith("steal(") and "secret-value" not in text


def test_parameter_echo_never_reflects_access_token(token_client):
    body = token_client.get(f"/diagnostic/echo?a=1&access_token={token(scope='read')}").get_json()
    assert body == {"a": 1}


def test_diagnostic_reports_uid_mode_with_a_warning(client):
    body = client.get("/diagnostic").get_json()
    assert body["auth_mode"] == "uid" and body["warnings"]


def test_diagnostic_summary_stays_open_in_token_mode(token_client):
    answer = token_client.get("/diagnostic")
    assert answer.status_code == 200
    assert answer.get_json()["auth_mode"] == "token" and answer.get_json()["warnings"] == []


def test_echo_needs_a_token_in_token_mode(token_client):
    assert token_client.get("/echo").status_code == 401
    assert token_client.get("/echo", headers=bearer(scope="read")).status_code == 200


def test_local_publish_needs_an_admin_token(token_client):
    assert token_client.post("/message/local_publish", json={}, headers=bearer(scope="write")).status_code == 403
    assert token_client.post("/message/local_publish", json={}, headers=bearer(scope="admin")).status_code == 200


def test_an_admin_token_mints_a_narrower_token(token_client):
    answer = token_client.post("/auth/tokens", json={"sub": "bob", "scope": "write", "ttl": "15m"},
                               headers=bearer("root", "admin"))
    assert answer.status_code == 201
    minted = answer.get_json()
    assert claims_of(minted["token"])["sub"] == "bob" and minted["scope"] == "write"
    assert token_client.get("/echo", headers={"Authorization": f"Bearer {minted['token']}"}).status_code == 200


def test_a_minted_token_never_outlives_the_admin_token(token_client):
    admin = token("root", "admin", ttl=60)
    minted = token_client.post("/auth/tokens", json={"sub": "bob", "ttl": "30d"},
                               headers={"Authorization": f"Bearer {admin}"}).get_json()
    assert minted["exp"] <= claims_of(admin)["exp"]


def test_minting_an_admin_token_over_http_is_refused(token_client):
    answer = token_client.post("/auth/tokens", json={"sub": "bob", "scope": "admin"}, headers=bearer("root", "admin"))
    assert answer.status_code == 400 and answer.get_json()["code"] == "bad_scope"


def test_a_write_token_cannot_mint(token_client):
    answer = token_client.post("/auth/tokens", json={"sub": "bob"}, headers=bearer("alice", "write"))
    assert answer.status_code == 403 and answer.get_json()["code"] == "insufficient_scope"


def test_minting_over_http_is_refused_in_uid_mode(build_app):
    client = build_app(build, DIAGNOSTIC_TARGETS="", AUTH_KEYS=AUTH_KEYS).test_client()
    answer = client.post("/auth/tokens", json={"sub": "bob"}, headers=bearer("root", "admin"))
    assert answer.status_code == 403 and answer.get_json()["code"] == "minting_disabled"
