"""hipflask.events.emit_local_event: every event in the stream; selected ones on stdout and the channel too."""
import json
import uuid

import pytest
from flask import Blueprint, request

import hipflask
from hipflask.events import CHANNEL, STREAM, emit_local_event
from support import run_threads, wait_until

blueprint = Blueprint("unit_events", __name__)


@blueprint.post("/emit/<source>")
def emit(source):
    return {"emitted": emit_local_event(source, request.get_json(silent=True))}


def stdout_events(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.fixture
def app(make_app, redis_url, redis_client):
    return make_app(blueprint, REDIS_URL=redis_url, LOCAL_EVENT_SOURCES="store,kv")


def test_selected_source_writes_one_json_line_to_stdout(app, capsys):
    response = app.test_client().post("/emit/store", json={"id": 1}, headers={"Uid": "alice"})
    assert response.get_json() == {"emitted": True}
    events = stdout_events(capsys)
    assert len(events) == 1
    assert events[0]["source"] == "store"
    assert events[0]["message"] == {"id": 1}
    assert events[0]["user_token"] == "alice"


def test_event_names_the_service_and_the_host(app, capsys):
    app.test_client().post("/emit/kv", json="x")
    event = stdout_events(capsys)[0]
    assert (event["service"], event["hostname"]) == ("unit", "unit-host")
    assert isinstance(event["time"], float)


def test_user_token_is_the_request_namespace(app, capsys):
    app.test_client().post("/emit/store", json=None, headers={"Uid": "a/b"})
    assert stdout_events(capsys)[0]["user_token"] == "a_2fb"


def test_user_token_is_default_without_the_user_header(app, capsys):
    app.test_client().post("/emit/store", json=None)
    assert stdout_events(capsys)[0]["user_token"] == "DEFAULT"


def test_unselected_source_prints_nothing(app, capsys, redis_client):
    response = app.test_client().post("/emit/render", json={"id": 1})
    assert response.get_json() == {"emitted": False}
    assert capsys.readouterr().out == ""


def test_unselected_source_still_goes_to_the_stream(app, redis_client):
    app.test_client().post("/emit/render", json={"id": 1}, headers={"Uid": "alice"})
    entries = redis_client.xrange(STREAM)
    assert len(entries) == 1
    event = json.loads(entries[0][1][b"event"])
    assert (event["source"], event["message"], event["user_token"]) == ("render", {"id": 1}, "alice")


def test_unselected_source_is_not_published_on_the_channel(app, redis_client):
    subscriber = redis_client.pubsub()
    try:
        subscriber.subscribe(CHANNEL)
        wait_until(lambda: subscriber.get_message(timeout=0.1), 5, "the subscription to be confirmed")
        app.test_client().post("/emit/render", json={"id": 1})
        app.test_client().post("/emit/store", json={"id": 2})
        message = wait_until(lambda: subscriber.get_message(ignore_subscribe_messages=True, timeout=0.1),
                             5, "the selected event on the channel")
        assert json.loads(message["data"])["source"] == "store"
    finally:
        subscriber.close()


def test_no_source_is_selected_by_default(make_app, capsys):
    app = make_app(blueprint)
    assert app.test_client().post("/emit/store", json=1).get_json() == {"emitted": False}
    assert capsys.readouterr().out == ""


def test_a_value_larger_than_events_max_value_bytes_is_named_not_streamed(make_app, redis_url, redis_client, capsys):
    app = make_app(blueprint, REDIS_URL=redis_url, LOCAL_EVENT_SOURCES="*", EVENTS_MAX_VALUE_BYTES="50")
    app.test_client().post("/emit/kv", json={"key": "k", "value": "x" * 100})
    streamed = json.loads(redis_client.xrange(STREAM)[0][1][b"event"])["message"]
    assert streamed == {"key": "k", "value_omitted": True, "value_size": 102}
    assert stdout_events(capsys)[0]["message"]["value"] == "x" * 100


def test_a_small_value_is_streamed_whole(make_app, redis_url, redis_client):
    app = make_app(blueprint, REDIS_URL=redis_url, EVENTS_MAX_VALUE_BYTES="50")
    app.test_client().post("/emit/store", json={"data": {"a": 1}})
    assert json.loads(redis_client.xrange(STREAM)[0][1][b"event"])["message"] == {"data": {"a": 1}}


def test_star_selects_every_source(make_app, redis_url, redis_client, capsys):
    client = make_app(blueprint, REDIS_URL=redis_url, LOCAL_EVENT_SOURCES="*").test_client()
    for source in ("store", "anything", "x.y"):
        assert client.post(f"/emit/{source}", json=1).get_json() == {"emitted": True}
    assert [event["source"] for event in stdout_events(capsys)] == ["store", "anything", "x.y"]


def test_event_outside_a_request_has_no_user_token(app, capsys):
    with app.app_context():
        assert emit_local_event("store", "started") is True
    assert stdout_events(capsys)[0]["user_token"] is None


def test_event_is_appended_to_the_redis_stream_as_the_stdout_line(app, capsys, redis_client):
    app.test_client().post("/emit/store", json={"id": 2})
    line = capsys.readouterr().out.strip()
    entries = redis_client.xrange(STREAM)
    assert len(entries) == 1
    assert entries[0][1][b"event"].decode() == line


def test_stream_keeps_events_in_emission_order(app, redis_client):
    client = app.test_client()
    for number in range(3):
        client.post("/emit/store", json=number)
    messages = [json.loads(fields[b"event"])["message"] for _, fields in redis_client.xrange(STREAM)]
    assert messages == [0, 1, 2]


def test_stream_is_capped_by_event_stream_maxlen(make_app, redis_url, redis_client):
    app = make_app(blueprint, REDIS_URL=redis_url, LOCAL_EVENT_SOURCES="*", EVENT_STREAM_MAXLEN="10")
    with app.app_context():
        for number in range(300):
            emit_local_event("store", number)
    assert redis_client.xlen(STREAM) < 300


def test_event_is_published_on_the_redis_channel(app, capsys, redis_client):
    subscriber = redis_client.pubsub()
    try:
        subscriber.subscribe(CHANNEL)
        wait_until(lambda: subscriber.get_message(timeout=0.1), 5, "the subscription to be confirmed")
        app.test_client().post("/emit/store", json={"id": 3})
        message = wait_until(lambda: subscriber.get_message(ignore_subscribe_messages=True, timeout=0.1),
                             5, "the event on the channel")
        assert message["channel"].decode() == CHANNEL
        assert message["data"].decode() == capsys.readouterr().out.strip()
    finally:
        subscriber.close()


def test_redis_down_never_fails_the_request(make_app, closed_redis_url, capsys):
    app = make_app(blueprint, REDIS_URL=closed_redis_url, LOCAL_EVENT_SOURCES="*")
    response = app.test_client().post("/emit/store", json={"id": 4})
    assert response.status_code == 200
    assert response.get_json() == {"emitted": True}
    assert stdout_events(capsys)[0]["message"] == {"id": 4}


def test_redis_down_is_counted_under_events(make_app, closed_redis_url):
    app = make_app(blueprint, REDIS_URL=closed_redis_url, LOCAL_EVENT_SOURCES="*")
    app.test_client().post("/emit/store", json=1)
    assert hipflask.backplane(app).failures["events"] == 1


def test_redis_error_reply_never_fails_the_request(app, redis_client):
    redis_client.set(STREAM, "not a stream")
    response = app.test_client().post("/emit/store", json=1)
    assert response.status_code == 200


def test_concurrent_emitters_each_put_their_event_in_the_stream_once_before_answering(app, redis_client):
    threads, events = 8, 20

    def emitter():
        client = app.test_client()
        for _ in range(events):
            marker = uuid.uuid4().hex
            assert client.post("/emit/render", json=marker).status_code == 200
            sent.append(marker)
            streamed = {json.loads(fields[b"event"])["message"] for _, fields in redis_client.xrange(STREAM)}
            assert marker in streamed  # in the stream when the request is answered

    sent: list[str] = []
    run_threads(emitter, threads)
    messages = [json.loads(fields[b"event"])["message"] for _, fields in redis_client.xrange(STREAM)]
    assert sorted(messages) == sorted(sent)
    assert len(messages) == threads * events
