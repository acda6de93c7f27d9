"""hipflask.cache.cache_my_response: whole responses shared through the real Redis, failing open."""
import time
from collections import Counter
from email.utils import parsedate_to_datetime

import pytest
from flask import Blueprint

import hipflask
from hipflask.cache import PREFIX, cache_my_response
from hipflask.jsonp import make_my_response_json

calls = Counter()
versions = {"template": "v1"}
blueprint = Blueprint("unit_cache", __name__)


@blueprint.route("/counted", methods=["GET", "POST", "HEAD"])
@cache_my_response()
def counted():
    calls["counted"] += 1
    return f"call {calls['counted']}"


@blueprint.get("/varied")
@cache_my_response(vary_by=["color"])
def varied():
    calls["varied"] += 1
    return f"call {calls['varied']}"


@blueprint.get("/short")
@cache_my_response(expiration_seconds=60)
def short():
    calls["short"] += 1
    return "short"


@blueprint.get("/tuple")
@cache_my_response()
def a_tuple():
    calls["tuple"] += 1
    return f"created {calls['tuple']}", 201, {"X-Custom": "kept", "Content-Type": "text/x-unit"}


@blueprint.get("/not-found")
@cache_my_response()
def not_found():
    calls["not-found"] += 1
    return "nothing here", 404


@blueprint.get("/server-error")
@cache_my_response()
def server_error():
    calls["server-error"] += 1
    return "broken", 500


@blueprint.get("/json")
@cache_my_response()
@make_my_response_json
def as_json():
    calls["json"] += 1
    return {"call": calls["json"]}


@blueprint.get("/versioned/<name>")
@cache_my_response(version=lambda name: versions[name])
def versioned(name):
    calls["versioned"] += 1
    return f"{name} {versions[name]} call {calls['versioned']}"


@pytest.fixture
def client(make_app, redis_url, redis_client):
    calls.clear()
    versions["template"] = "v1"
    return make_app(blueprint, REDIS_URL=redis_url).test_client()


def test_first_get_is_a_miss_and_runs_the_view(client):
    response = client.get("/counted")
    assert response.get_data(as_text=True) == "call 1"
    assert response.headers["X-Cache"] == "MISS"
    assert calls["counted"] == 1


def test_second_get_is_served_from_the_cache_with_the_same_body(client):
    first = client.get("/counted")
    second = client.get("/counted")
    assert second.get_data() == first.get_data()
    assert second.headers["X-Cache"] == "HIT"
    assert calls["counted"] == 1


def test_cached_response_carries_expires_of_the_cached_item(client):
    client.get("/counted")
    before = time.time()
    expires = parsedate_to_datetime(client.get("/counted").headers["Expires"]).timestamp()
    assert before + 900 - 5 <= expires <= before + 900 + 1


def test_cached_entry_lives_expiration_seconds_in_redis(client, redis_client):
    client.get("/short")
    keys = redis_client.keys(PREFIX + "*")
    assert len(keys) == 1
    assert 0 < redis_client.ttl(keys[0]) <= 60


def test_vary_by_parameter_values_are_separate_entries(client):
    red = client.get("/varied?color=red").get_data(as_text=True)
    blue = client.get("/varied?color=blue").get_data(as_text=True)
    assert red != blue
    assert client.get("/varied?color=red").get_data(as_text=True) == red
    assert calls["varied"] == 2


def test_query_strings_are_separate_entries(client):
    client.get("/counted?page=1")
    client.get("/counted?page=2")
    assert calls["counted"] == 2


def test_namespaces_are_separate_entries(client):
    alice = client.get("/counted", headers={"Uid": "alice"}).get_data(as_text=True)
    bob = client.get("/counted", headers={"Uid": "bob"}).get_data(as_text=True)
    assert alice != bob
    assert client.get("/counted", headers={"Uid": "alice"}).get_data(as_text=True) == alice


def test_reload_cache_forces_a_fresh_response(client):
    client.get("/counted")
    response = client.get("/counted?_reload_cache=1")
    assert response.get_data(as_text=True) == "call 2"
    assert "Expires" not in response.headers


def test_reload_cache_replaces_the_cached_response(client):
    client.get("/counted")
    client.get("/counted?_reload_cache=1")
    assert client.get("/counted").get_data(as_text=True) == "call 2"
    assert calls["counted"] == 2


def test_tuple_with_status_and_headers_is_cached_whole(client):
    first = client.get("/tuple")
    second = client.get("/tuple")
    assert second.headers["X-Cache"] == "HIT"
    assert second.status_code == first.status_code == 201
    assert second.headers["X-Custom"] == "kept"
    assert second.headers["Content-Type"] == first.headers["Content-Type"]
    assert second.get_data() == first.get_data() == b"created 1"


def test_json_views_are_cached_with_their_content_type(client):
    client.get("/json")
    second = client.get("/json")
    assert second.headers["X-Cache"] == "HIT"
    assert second.mimetype == "application/json"
    assert second.get_json() == {"call": 1}


def test_jsonp_and_json_are_separate_entries(client):
    assert client.get("/json").get_json() == {"call": 1}
    assert client.get("/json?callback=cb").get_data(as_text=True) == 'cb({"call":2});'


def test_404_is_cached(client):
    client.get("/not-found")
    response = client.get("/not-found")
    assert response.status_code == 404
    assert calls["not-found"] == 1


def test_server_errors_are_not_cached(client):
    client.get("/server-error")
    client.get("/server-error")
    assert calls["server-error"] == 2


def test_post_is_not_cached(client, redis_client):
    assert client.post("/counted").get_data(as_text=True) == "call 1"
    assert client.post("/counted").get_data(as_text=True) == "call 2"
    assert redis_client.keys(PREFIX + "*") == []


def test_post_does_not_serve_a_cached_get(client):
    client.get("/counted")
    assert client.post("/counted").get_data(as_text=True) == "call 2"


def test_version_change_forces_a_fresh_response(client):
    client.get("/versioned/template")
    versions["template"] = "v2"
    assert client.get("/versioned/template").get_data(as_text=True) == "template v2 call 2"


def test_cache_is_shared_between_apps_of_the_same_service(client, make_app, redis_url):
    client.get("/counted")
    other_replica = make_app(blueprint, REDIS_URL=redis_url, X_HOSTNAME="other-host").test_client()
    response = other_replica.get("/counted")
    assert response.headers["X-Cache"] == "HIT"
    assert response.headers["X-HOSTNAME"] == "other-host"
    assert calls["counted"] == 1


def test_redis_down_runs_the_view_uncached_and_the_request_succeeds(make_app, closed_redis_url):
    calls.clear()
    client = make_app(blueprint, REDIS_URL=closed_redis_url).test_client()
    first = client.get("/counted")
    second = client.get("/counted")
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first.get_data(as_text=True), second.get_data(as_text=True)) == ("call 1", "call 2")


def test_redis_down_is_counted_in_backplane_failures(make_app, closed_redis_url):
    app = make_app(blueprint, REDIS_URL=closed_redis_url)
    app.test_client().get("/counted")
    assert hipflask.backplane(app).failures["cache"] >= 1


def test_redis_down_is_logged_as_a_warning(make_app, closed_redis_url, caplog):
    make_app(blueprint, REDIS_URL=closed_redis_url).test_client().get("/counted")
    assert any(record.levelname == "WARNING" and "redis unreachable" in record.getMessage()
               for record in caplog.records)
