"""Who sees what: namespaces, the uid parameter, global families, and the filters."""
import pytest

from render.templates import content_etag


def test_alice_never_sees_bobs_events(subscribe, store_client):
    alice = subscribe(headers={"Uid": "alice"})
    store_client.post("/store/todos", json={"secret": 1}, headers={"Uid": "bob"})
    store_client.post("/store/todos", json={"mine": 1}, headers={"Uid": "alice"})
    event = alice.next_change()
    assert event.json["namespace"] == "alice"
    assert "mine" in event.json["value"]
    assert alice.quiet_for(0.3) == []


def test_uid_parameter_selects_the_namespace_like_the_header(subscribe, store_client):
    alice = subscribe("?uid=alice")
    store_client.post("/store/todos", json={"n": 1}, headers={"Uid": "bob"})
    store_client.post("/store/todos", json={"n": 2}, headers={"Uid": "alice"})
    assert alice.next_change().json["value"]["n"] == 2


def test_uid_parameter_follows_the_namespace_rule(subscribe, store_client):
    odd = subscribe("?uid=a/b")
    store_client.post("/store/todos", json={"n": 1}, headers={"Uid": "a/b"})
    assert odd.next_change().json["namespace"] == "a_2fb"


def test_fs_events_reach_every_namespace(subscribe, build_app):
    from fs.wsgi import build as build_fs
    fs = build_app(build_fs).test_client()
    bob = subscribe(headers={"Uid": "bob"})
    fs.put("/fs/photos/cat.txt", data=b"meow", headers={"Uid": "alice"})
    event = bob.next_change()
    assert event.event == "fs.upload"
    assert event.json["path"] == "/fs/photos/cat.txt"
    assert event.json["etag"].startswith('"')


def test_family_filter_keeps_only_those_families(subscribe, store_client, build_app):
    from kv.wsgi import build as build_kv
    kv = build_app(build_kv).test_client()
    only_kv = subscribe("?family=kv", headers={"Uid": "alice"})
    store_client.post("/store/todos", json={"n": 1}, headers={"Uid": "alice"})
    kv.put("/kv/cfg/a", data=b'{"on": true}', content_type="application/json", headers={"Uid": "alice"})
    event = only_kv.next_change()
    assert event.event == "kv.set"
    assert (event.json["key"], event.json["value"]) == ("cfg/a", {"on": True})
    assert only_kv.quiet_for(0.3) == []


def test_store_filter_keeps_only_that_store(subscribe, store_client):
    todos = subscribe("?store=todos", headers={"Uid": "alice"})
    store_client.post("/store/other", json={"n": 1}, headers={"Uid": "alice"})
    store_client.post("/store/todos", json={"n": 2}, headers={"Uid": "alice"})
    assert todos.next_change().json["store"] == "todos"
    assert todos.quiet_for(0.3) == []


def test_key_prefix_and_store_filters_combine(subscribe, store_client, build_app):
    from kv.wsgi import build as build_kv
    kv = build_app(build_kv).test_client()
    both = subscribe("?store=todos&key_prefix=cfg/", headers={"Uid": "alice"})
    kv.put("/kv/other/x", data=b"1", content_type="application/json", headers={"Uid": "alice"})
    kv.put("/kv/cfg/x", data=b"1", content_type="application/json", headers={"Uid": "alice"})
    store_client.post("/store/other", json={"n": 1}, headers={"Uid": "alice"})
    store_client.post("/store/todos", json={"n": 2}, headers={"Uid": "alice"})
    assert [(e.event, e.json.get("key") or e.json.get("store")) for e in both.changes(2)] == [
        ("kv.set", "cfg/x"), ("store.add", "todos")]
    assert both.quiet_for(0.3) == []


def test_path_prefix_filter_keeps_files_under_it(subscribe, build_app):
    from fs.wsgi import build as build_fs
    fs = build_app(build_fs).test_client()
    photos = subscribe("?path_prefix=photos/")
    fs.put("/fs/docs/a.txt", data=b"a")
    fs.put("/fs/photos/b.txt", data=b"b")
    assert photos.next_change().json["path"] == "/fs/photos/b.txt"
    assert photos.quiet_for(0.3) == []


def test_large_kv_value_is_named_not_inlined(subscribe, build_app):
    from kv.wsgi import build as build_kv
    kv = build_app(build_kv, EVENTS_MAX_VALUE_BYTES="100").test_client()
    watcher = subscribe("?family=kv")
    kv.put("/kv/big", data=b'"' + b"x" * 500 + b'"', content_type="application/json")
    data = watcher.next_change().json
    assert "value" not in data
    assert data["size"] == 502


def test_large_store_item_is_named_not_inlined(subscribe, build_app):
    from store.wsgi import build as build_store
    store = build_app(build_store, EVENTS_MAX_VALUE_BYTES="100").test_client()
    watcher = subscribe("?family=store")
    store.post("/store/todos", json={"text": "x" * 500})
    data = watcher.next_change().json
    assert "value" not in data
    assert data["value_omitted"] is True and data["value_size"] > 500


@pytest.mark.parametrize("path, name", [("/message/local_publish", "message")])
def test_a_published_message_is_an_event(subscribe, build_app, path, name):
    from diagnostic.wsgi import build as build_diagnostic
    diagnostic = build_app(build_diagnostic).test_client()
    watcher = subscribe(headers={"Uid": "ops"})
    diagnostic.post(path, data={"kind": "deploy"}, headers={"Uid": "ops"})
    event = watcher.next_change()
    assert event.event == name
    assert event.json["message"] == {"kind": "deploy"}


def test_template_write_is_an_event(subscribe, build_app):
    from render.wsgi import build as build_render
    render = build_app(build_render, RENDER_TOKEN="t").test_client()
    watcher = subscribe("?family=template")
    render.put("/template/mail/hi.html", data=b"hi", headers={"Authorization": "Bearer t"})
    event = watcher.next_change()
    assert (event.event, event.json["path"]) == ("template.write", "mail/hi.html")
    assert event.json["etag"] == content_etag("hi")
