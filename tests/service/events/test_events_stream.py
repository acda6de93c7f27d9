"""GET /events: every committed change as a Server-Sent Event, replayed after an id, then live."""
import time

import pytest

import hipflask
from hipflask.events import STREAM


def add(store_client, body, uid="alice", store="todos"):
    response = store_client.post(f"/store/{store}", json=body, headers={"Uid": uid})
    assert response.status_code == 200
    return response.get_json()["id"]


def stream_ids(redis_client):
    return [entry_id.decode() for entry_id, _ in redis_client.xrange(STREAM)]


def test_stream_is_text_event_stream_never_cached_nor_buffered(client):
    response = client.get("/events", buffered=False)
    try:
        assert response.status_code == 200
        assert response.mimetype == "text/event-stream"
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Accel-Buffering"] == "no"
    finally:
        response.close()


def test_stream_starts_with_the_retry_hint(subscribe):
    subscriber = subscribe()
    subscriber.wait_open()
    assert subscriber.retry == "1500"


def test_idle_stream_sends_heartbeat_comments(client):
    response = client.get("/events", buffered=False)
    try:
        chunks = [next(response.response) for _ in range(3)]
        assert chunks[1:] == [b": heartbeat\n\n", b": heartbeat\n\n"]
    finally:
        response.close()


def test_store_write_arrives_with_its_stream_id_name_and_fields(subscribe, store_client, redis_client):
    subscriber = subscribe(headers={"Uid": "alice"})
    item_id = add(store_client, {"title": "milk"})
    event = subscriber.next_change()
    assert event.event == "store.add"
    assert event.id == stream_ids(redis_client)[-1]
    data = event.json
    assert (data["namespace"], data["family"], data["action"], data["store"], data["id"]) == (
        "alice", "store", "add", "todos", item_id)
    assert data["value"]["title"] == "milk"
    stored = store_client.get(f"/store/todos/{item_id}", headers={"Uid": "alice"})
    assert data["etag"] == stored.headers["ETag"].strip('"')
    assert abs(data["time"] - time.time() * 1000) < 60_000


def test_update_and_delete_are_named_by_their_action(subscribe, store_client):
    subscriber = subscribe(headers={"Uid": "alice"})
    item_id = add(store_client, {"n": 1})
    store_client.put(f"/store/todos/{item_id}", json={"n": 2}, headers={"Uid": "alice"})
    store_client.delete(f"/store/todos/{item_id}", headers={"Uid": "alice"})
    assert [e.event for e in subscriber.changes(3)] == ["store.add", "store.update", "store.delete"]


def test_last_event_id_replays_exactly_the_missed_events_in_order_then_live(subscribe, store_client, redis_client):
    add(store_client, {"n": 0})
    seen = stream_ids(redis_client)[-1]
    missed = [add(store_client, {"n": n}) for n in range(1, 31)]
    subscriber = subscribe(headers={"Uid": "alice", "Last-Event-ID": seen})
    live = add(store_client, {"n": 31})
    events = subscriber.changes(31)
    assert [e.json["id"] for e in events] == missed + [live]
    assert [e.id for e in events] == stream_ids(redis_client)[-31:]
    assert subscriber.quiet_for(0.3) == []


def test_last_event_id_query_parameter_resumes_like_the_header(subscribe, store_client, redis_client):
    add(store_client, {"n": 0})
    seen = stream_ids(redis_client)[-1]
    second = add(store_client, {"n": 1})
    subscriber = subscribe(f"?lastEventId={seen}", headers={"Uid": "alice"})
    assert subscriber.next_change().json["id"] == second


def test_a_trimmed_id_gives_reset_first_then_live_events(subscribe, store_client, redis_client):
    add(store_client, {"n": 0})
    old = stream_ids(redis_client)[-1]
    add(store_client, {"n": 1})
    add(store_client, {"n": 2})
    redis_client.xtrim(STREAM, maxlen=1, approximate=False)
    subscriber = subscribe(headers={"Uid": "alice", "Last-Event-ID": old})
    reset = subscriber.next_change()
    assert reset.event == "reset"
    assert reset.json["reason"] == "trimmed"
    assert reset.id == stream_ids(redis_client)[-1]
    later = add(store_client, {"n": 3})
    assert subscriber.next_change().json["id"] == later


def test_an_id_when_the_stream_is_gone_gives_reset(subscribe, redis_client):
    subscriber = subscribe(headers={"Last-Event-ID": "1700000000000-0"})
    assert subscriber.next_change().event == "reset"


def test_since_replays_the_events_from_that_time(subscribe, store_client):
    add(store_client, {"n": 0})
    time.sleep(0.005)  # the next write's millisecond must be later than the boundary
    since = int(time.time() * 1000)
    first = add(store_client, {"n": 1})
    subscriber = subscribe(f"?since={since}", headers={"Uid": "alice"})
    assert subscriber.next_change().json["id"] == first


def test_new_subscriber_without_an_id_gets_only_later_events(subscribe, store_client):
    add(store_client, {"n": 0})
    subscriber = subscribe(headers={"Uid": "alice"})
    later = add(store_client, {"n": 1})
    assert subscriber.next_change().json["id"] == later


@pytest.mark.parametrize("query, code", [("?colour=red", "unknown_filter"), ("?family=store,nope", "bad_filter"),
                                         ("?lastEventId=abc", "bad_event_id"), ("?since=yesterday", "bad_since")])
def test_bad_query_is_a_400_in_the_error_shape(client, query, code):
    response = client.get(f"/events{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert (body["status"], body["code"]) == (400, code)
    assert body["eid"]


def test_subscribers_above_the_cap_get_503_with_retry_after(build_app):
    from events.wsgi import build
    app = build_app(build, EVENTS_MAX_SUBSCRIBERS="1", EVENTS_HEARTBEAT_SECONDS="0.1")
    client = app.test_client()
    first = client.get("/events", buffered=False)
    try:
        refused = client.get("/events")
        assert refused.status_code == 503
        assert refused.get_json()["code"] == "too_many_subscribers"
        assert int(refused.headers["Retry-After"]) >= 1
    finally:
        first.close()
        hipflask.state(app).storage.stop()


def test_a_closed_stream_frees_its_place(client, app):
    response = client.get("/events", buffered=False)
    assert hipflask.state(app).storage.count() == 1
    next(response.response)
    response.close()
    assert hipflask.state(app).storage.count() == 0


def test_with_redis_down_a_stream_still_opens_and_heartbeats(build_app):
    from events.wsgi import build
    app = build_app(build, REDIS_URL="redis://127.0.0.1:1/0", REDIS_TIMEOUT="0.2", EVENTS_HEARTBEAT_SECONDS="0.1")
    response = app.test_client().get("/events", buffered=False)
    try:
        assert response.status_code == 200
        assert [next(response.response) for _ in range(2)][1] == b": heartbeat\n\n"
    finally:
        response.close()
        hipflask.state(app).storage.stop()


def test_with_redis_down_a_replay_is_a_503_with_retry_after(build_app):
    from events.wsgi import build
    app = build_app(build, REDIS_URL="redis://127.0.0.1:1/0", REDIS_TIMEOUT="0.2")
    try:
        response = app.test_client().get("/events?lastEventId=1-0")
        assert response.status_code == 503
        assert response.get_json()["code"] == "redis_unavailable"
        assert response.headers["Retry-After"]
        assert hipflask.state(app).storage.count() == 0
    finally:
        hipflask.state(app).storage.stop()


def test_subscriber_counts_are_served_on_the_service_port(client, app):
    response = client.get("/events", buffered=False)
    try:
        assert client.get("/_hipflask/subscribers").get_json()["subscribers"] == 1
    finally:
        response.close()
