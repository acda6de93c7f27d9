"""hipflask.access: the one access rule every request of every service passes."""
import time

import jwt
import pytest
from flask import Blueprint

from hipflask import access
from hipflask.access import namespace
from hipflask.config import ConfigError
from hipflask.tokens import Keyring, parse_shared_keys

SECRET = "s" * 32
KEYS = f"k1:{SECRET}"
blueprint = Blueprint("unit_access", __name__)


@blueprint.route("/data", methods=["GET", "POST", "PUT", "DELETE"])
def data():
    return {"namespace": namespace()}


@blueprint.post("/admin-only")
@access.requires("admin")
def admin_only():
    return {"namespace": namespace()}


@blueprint.get("/ops")
@access.open_to_all
def ops():
    return {"namespace": namespace()}


def token(sub="alice", scope="write", **claims):
    return Keyring(parse_shared_keys(KEYS)).mint(sub, scope, 60) if not claims else jwt.encode(
        {"sub": sub, "scope": scope, "aud": "hipflask", "exp": int(time.time()) + 60, **claims}, SECRET,
        algorithm="HS256", headers={"kid": "k1"})


def bearer(value):
    return {"Authorization": f"Bearer {value}"}


@pytest.fixture
def client(make_app):
    return make_app(blueprint, AUTH_MODE="token", AUTH_KEYS=KEYS, AUTH_PUBLIC="guestbook:write,docs:read").test_client()


def test_uid_mode_takes_the_namespace_from_the_header(make_app):
    client = make_app(blueprint).test_client()
    assert client.get("/data", headers={"Uid": "bob"}).get_json() == {"namespace": "bob"}


def test_token_mode_takes_the_namespace_from_the_token_not_the_header(client):
    answer = client.get("/data", headers={"Uid": "bob", **bearer(token("alice"))})
    assert answer.get_json() == {"namespace": "alice"}


def test_no_token_is_401_with_the_bearer_challenge(client):
    answer = client.get("/data", headers={"Uid": "bob"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="hipflask"'
    assert answer.get_json()["code"] == "unauthorized"


def test_every_bad_token_gets_the_same_answer(client):
    bodies = set()
    for bad in ("garbage", token(aud="other"), token(exp=int(time.time()) - 100), token() + "x"):
        answer = client.get("/data", headers=bearer(bad))
        assert answer.status_code == 401
        body = answer.get_json()
        bodies.add((body["code"], body["message"]))
    assert len(bodies) == 1


def test_read_scope_cannot_write(client):
    answer = client.post("/data", headers=bearer(token(scope="read")))
    assert answer.status_code == 403
    assert answer.get_json()["code"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in answer.headers["WWW-Authenticate"]


def test_read_scope_reads(client):
    assert client.get("/data", headers=bearer(token(scope="read"))).status_code == 200


def test_a_route_declaring_admin_refuses_write_tokens(client):
    assert client.post("/admin-only", headers=bearer(token(scope="write"))).status_code == 403


def test_an_admin_token_names_any_namespace_with_the_header(client):
    answer = client.post("/admin-only", headers={"Uid": "bob", **bearer(token("root", "admin"))})
    assert answer.get_json() == {"namespace": "bob"}


def test_access_token_in_the_query_works_on_get_and_is_private(client):
    answer = client.get(f"/data?access_token={token()}")
    assert answer.get_json() == {"namespace": "alice"}
    assert answer.headers["Cache-Control"].startswith("private")


def test_access_token_in_the_query_is_ignored_on_writes(client):
    assert client.post(f"/data?access_token={token()}").status_code == 401


def test_a_public_namespace_is_open_to_its_scope_without_a_token(client):
    assert client.post("/data", headers={"Uid": "guestbook"}).get_json() == {"namespace": "guestbook"}
    assert client.get("/data", headers={"Uid": "docs"}).status_code == 200
    assert client.post("/data", headers={"Uid": "docs"}).status_code == 401


def test_default_is_not_public_unless_listed(client):
    assert client.get("/data").status_code == 401


def test_open_routes_need_no_token(client):
    assert client.get("/ops").get_json() == {"namespace": "DEFAULT"}


@pytest.mark.parametrize("path", ["/_hipflask/live", "/_hipflask/openapi.json"])
def test_ops_routes_of_the_library_stay_open(client, path):
    assert client.get(path).status_code == 200


def test_unknown_routes_need_a_token_too(client):
    assert client.get("/nowhere").status_code == 401


def test_token_mode_without_keys_stops_the_service(make_app):
    with pytest.raises(ConfigError, match="AUTH_MODE"):
        make_app(blueprint, AUTH_MODE="token")


def test_a_bad_auth_public_stops_the_service(make_app):
    with pytest.raises(ConfigError, match="AUTH_PUBLIC"):
        make_app(blueprint, AUTH_MODE="token", AUTH_KEYS=KEYS, AUTH_PUBLIC="docs:admin")
