"""The original's store contract over HTTP: append, list, get, merge, delete, JSONP, namespaces, events."""
import pytest


def append(client, store_name="things", headers=None, **fields):
    response = client.post(f"/store/{store_name}", json=fields, headers=headers)
    assert response.status_code == 200, response.data
    return response.get_json()["id"]


def test_append_form_values_keep_their_number_types(client):
    response = client.post("/store/my_test_list", data={"number": "1", "name": "pants", "ratio": "0.5"})
    assert response.get_json() == {"id": 1}
    item = client.get("/store/my_test_list/1").get_json()
    assert (item["id"], item["number"], item["name"], item["ratio"]) == (1, 1, "pants", 0.5)


def test_append_query_values_are_stored_like_form_values(client):
    item_id = client.post("/store/things?zero=0&word=hi").get_json()["id"]
    item = client.get(f"/store/things/{item_id}").get_json()
    assert (item["zero"], item["word"]) == (0, "hi")


def test_append_json_body_stores_the_object_as_sent(client):
    item_id = append(client, nested={"a": [1, 2]}, flag=True, text="5")
    item = client.get(f"/store/things/{item_id}").get_json()
    assert (item["nested"], item["flag"], item["text"]) == ({"a": [1, 2]}, True, "5")


def test_append_answers_increasing_ids(client):
    assert [append(client, n=n) for n in range(3)] == [1, 2, 3]


def test_append_ignores_client_id_created_and_updated(client):
    item_id = append(client, id=99, created=1, updated=2, name="x")
    item = client.get(f"/store/things/{item_id}").get_json()
    assert item["id"] == item_id == 1
    assert item["created"] > 1 and item["updated"] == item["created"]


def test_append_with_form_callback_answers_jsonp_and_does_not_store_it(client):
    response = client.post("/store/things", data={"a": "1", "callback": "cb"})
    assert response.mimetype == "application/javascript"
    assert response.get_data(as_text=True) == 'cb({"id":1});'
    assert "callback" not in client.get("/store/things/1").get_json()


def test_item_carries_id_first_then_fields_then_timestamps(client):
    append(client, name="pants", number=1)
    assert list(client.get("/store/things/1").get_json()) == ["id", "name", "number", "created", "updated"]


def test_list_returns_every_item_with_its_id_in_id_order(client):
    for n in range(3):
        append(client, n=n)
    items = client.get("/store/things").get_json()
    assert [(item["id"], item["n"]) for item in items] == [(1, 0), (2, 1), (3, 2)]


def test_list_of_a_store_that_does_not_exist_is_an_empty_array(client):
    response = client.get("/store/nothing_here")
    assert response.status_code == 200
    assert response.get_json() == []


def test_list_as_jsonp(client):
    append(client, a=1)
    response = client.get("/store/things?callback=cb")
    assert response.mimetype == "application/javascript"
    text = response.get_data(as_text=True)
    assert text.startswith('cb([{"id":1,"a":1,') and text.endswith("]);")


def test_missing_item_is_404_with_an_empty_object(client):
    response = client.get("/store/things/1")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_data(as_text=True).strip() == "{}"


def test_missing_item_with_callback_is_200_with_cb_of_empty_object(client):
    response = client.get("/store/things/1?callback=cb")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    assert response.get_data(as_text=True) == "cb({});"


def test_item_with_callback_is_wrapped_exactly(client):
    append(client, name="pants")
    item = client.get("/store/things/1").get_data(as_text=True).strip()
    assert client.get("/store/things/1?callback=cb").get_data(as_text=True) == f"cb({item});"


def test_merge_replaces_and_adds_fields_and_answers_an_empty_object(client):
    append(client, name="pants", number=1)
    response = client.post("/store/things/1", json={"number": 2, "colour": "red"})
    assert response.status_code == 200
    assert response.get_json() == {}
    item = client.get("/store/things/1").get_json()
    assert (item["name"], item["number"], item["colour"]) == ("pants", 2, "red")


def test_merge_with_json_null_removes_the_field(client):
    append(client, name="pants", number=1)
    client.post("/store/things/1", json={"name": None})
    assert "name" not in client.get("/store/things/1").get_json()


def test_merge_with_the_string_null_removes_the_field(client):
    append(client, name="pants", number=1)
    client.post("/store/things/1", data={"name": "null"})
    item = client.get("/store/things/1").get_json()
    assert "name" not in item and item["number"] == 1


def test_merge_replaces_nested_objects_whole(client):
    append(client, address={"city": "Paris", "zip": "75001"})
    client.post("/store/things/1", json={"address": {"city": "Lyon"}})
    assert client.get("/store/things/1").get_json()["address"] == {"city": "Lyon"}


def test_merge_of_a_missing_item_creates_it_with_that_id(client):
    response = client.post("/store/things/7", data={"name": "new", "gone": "null"})
    assert response.get_json() == {}
    item = client.get("/store/things/7").get_json()
    assert (item["id"], item["name"]) == (7, "new")
    assert "gone" not in item


def test_merge_answers_jsonp_empty_object(client):
    response = client.post("/store/things/1?callback=cb", json={"a": 1})
    assert response.mimetype == "application/javascript"
    assert response.get_data(as_text=True) == "cb({});"


def test_append_after_create_on_update_takes_a_higher_id(client):
    client.post("/store/things/10", json={"a": 1})
    assert append(client, b=2) == 11


def test_merge_keeps_created_and_moves_updated(client):
    append(client, a=1)
    before = client.get("/store/things/1").get_json()
    client.post("/store/things/1", json={"a": 2})
    after = client.get("/store/things/1").get_json()
    assert after["created"] == before["created"]
    assert after["updated"] > before["updated"]


def test_delete_removes_the_item(client):
    append(client, a=1)
    response = client.delete("/store/things/1")
    assert response.status_code == 200
    assert response.get_json() == {}
    assert client.get("/store/things/1").status_code == 404


def test_delete_of_a_comma_list_ignores_ids_that_do_not_exist(client):
    for n in range(4):
        append(client, n=n)
    assert client.delete("/store/things/1,3,99").status_code == 200
    assert [item["id"] for item in client.get("/store/things").get_json()] == [2, 4]


def test_delete_of_a_missing_item_answers_200(client):
    assert client.delete("/store/things/5").status_code == 200


def test_deleted_ids_are_never_reused(client):
    append(client, a=1)
    append(client, a=2)
    client.delete("/store/things/2")
    assert append(client, a=3) == 3


def test_delete_answers_jsonp(client):
    assert client.delete("/store/things/1?callback=cb").get_data(as_text=True) == "cb({});"


@pytest.mark.parametrize("reader, writer", [("bob", "alice"), (None, "alice"), ("alice", None)])
def test_a_namespace_does_not_see_another_namespaces_items(client, reader, writer):
    append(client, headers={"Uid": writer} if writer else None, secret=1)
    headers = {"Uid": reader} if reader else None
    assert client.get("/store/things", headers=headers).get_json() == []
    assert client.get("/store/things/1", headers=headers).status_code == 404
    assert client.get("/store", headers=headers).get_json() == []


def test_each_namespace_has_its_own_ids(client):
    assert append(client, headers={"Uid": "alice"}, a=1) == 1
    assert append(client, headers={"Uid": "bob"}, b=1) == 1
    assert client.get("/store/things/1", headers={"Uid": "alice"}).get_json()["a"] == 1


def test_delete_in_one_namespace_leaves_another_alone(client):
    append(client, headers={"Uid": "alice"}, a=1)
    client.delete("/store/things/1", headers={"Uid": "bob"})
    assert client.get("/store/things/1", headers={"Uid": "alice"}).status_code == 200


def test_store_index_lists_names_with_item_counts(client):
    append(client, "b_store", a=1)
    append(client, "a_store", a=1)
    append(client, "a_store", a=2)
    assert client.get("/store").get_json() == [{"name": "a_store", "count": 2}, {"name": "b_store", "count": 1}]


def test_store_index_leaves_out_emptied_stores(client):
    append(client, a=1)
    client.delete("/store/things/1")
    assert client.get("/store").get_json() == []


def test_append_emits_an_add_event_with_the_item(client, events):
    append(client, name="pants")
    [event] = events.messages("store")
    assert event["action"] == "add"
    assert event["store_name"] == "things"
    assert event["data"]["id"] == 1 and event["data"]["name"] == "pants"


def test_merge_emits_an_update_event_with_the_merged_item(client, events):
    append(client, name="pants", n=1)
    client.post("/store/things/1", json={"n": 2})
    event = events.messages("store")[-1]
    assert event["action"] == "update"
    assert (event["data"]["name"], event["data"]["n"]) == ("pants", 2)


def test_create_on_update_emits_an_add_event(client, events):
    client.post("/store/things/4", json={"n": 2})
    assert events.messages("store")[-1]["action"] == "add"


def test_delete_emits_one_event_per_deleted_id(client, events):
    append(client, a=1)
    append(client, a=2)
    client.delete("/store/things/1,2,3")
    assert [(e["action"], e["id"]) for e in events.messages("store")[-2:]] == [("delete", 1), ("delete", 2)]
    assert all(e["store_name"] == "things" for e in events.messages("store"))


def test_store_event_goes_to_the_stream_but_not_stdout_when_the_source_is_not_selected(build_app, events, capsys):
    from store.wsgi import build
    client = build_app(build, LOCAL_EVENT_SOURCES="kv").test_client()
    client.post("/store/things", json={"a": 1})
    assert len(events()) == 1
    assert '"source": "store"' not in capsys.readouterr().out


def test_write_events_carry_the_item_id_and_its_new_etag(client, events):
    item_id = append(client, a=1)
    etag = client.get(f"/store/things/{item_id}").headers["ETag"].strip('"')
    client.put(f"/store/things/{item_id}", json={"a": 2})
    new_etag = client.get(f"/store/things/{item_id}").headers["ETag"].strip('"')
    assert [(e["action"], e["id"], e["etag"]) for e in events.messages("store")] == [("add", item_id, etag),
                                                                                     ("update", item_id, new_etag)]


def test_failed_write_emits_no_event(client, events):
    client.post("/store/things", data=b"{bad", content_type="application/json")
    assert events.messages("store") == []
