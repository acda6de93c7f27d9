"""/events in token mode: the token (header, or `?access_token=` for EventSource) names the namespace."""
import pytest

import hipflask
from sse_client import Subscriber
from support import AUTH_KEYS, bearer, token

from events.wsgi import build


@pytest.fixture
def token_app(build_app):
    app = build_app(build, AUTH_MODE="token", AUTH_KEYS=AUTH_KEYS, EVENTS_HEARTBEAT_SECONDS="0.1")
    yield app
    hipflask.state(app).storage.stop()


@pytest.fixture
def token_store(build_app):
    from store.wsgi import build as build_store
    return build_app(build_store, AUTH_MODE="token", AUTH_KEYS=AUTH_KEYS).test_client()


@pytest.fixture
def open_stream(token_app):
    client, opened = token_app.test_client(), []

    def open_(query: str = "", headers: dict | None = None):
        response = client.get(f"/events{query}", headers=headers or {}, buffered=False)
        if response.status_code != 200:
            return response
        subscriber = Subscriber(response.response, on_close=response.close)
        opened.append(subscriber)
        return subscriber

    yield open_
    for subscriber in opened:
        subscriber.close()


def test_a_stream_without_a_token_is_401(open_stream):
    refused = open_stream()
    assert refused.status_code == 401
    assert refused.get_json()["code"] == "unauthorized"


def test_a_token_in_the_query_scopes_the_stream_to_its_namespace(open_stream, token_store):
    alice = open_stream(f"?access_token={token('alice', 'read')}")
    token_store.post("/store/todos", json={"secret": 1}, headers=bearer("bob"))
    token_store.post("/store/todos", json={"mine": 1}, headers=bearer("alice"))
    event = alice.next_change()
    assert (event.json["namespace"], event.json["value"]["mine"]) == ("alice", 1)
    assert alice.quiet_for(0.3) == []


def test_a_bearer_header_scopes_the_stream_like_the_query(open_stream, token_store):
    bob = open_stream(headers=bearer("bob", "read"))
    token_store.post("/store/todos", json={"n": 1}, headers=bearer("alice"))
    token_store.post("/store/todos", json={"n": 2}, headers=bearer("bob"))
    assert bob.next_change().json["value"]["n"] == 2


def test_a_uid_parameter_does_not_widen_a_tokens_namespace(open_stream, token_store):
    alice = open_stream(f"?access_token={token('alice', 'read')}&uid=bob")
    token_store.post("/store/todos", json={"n": 1}, headers=bearer("bob"))
    token_store.post("/store/todos", json={"n": 2}, headers=bearer("alice"))
    assert alice.next_change().json["namespace"] == "alice"


def test_a_token_signed_with_another_key_is_401(open_stream):
    forged = token("alice", "read", keys="k9:" + "another-secret-k9-" * 3)
    assert open_stream(f"?access_token={forged}").status_code == 401
