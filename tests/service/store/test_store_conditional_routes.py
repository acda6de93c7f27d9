"""ETags and conditional requests, PUT, PATCH (JSON Merge Patch) and HEAD over HTTP."""
from support import assert_error

MERGE = "application/merge-patch+json"


def make(client, **fields):
    item_id = client.post("/store/things", json=fields).get_json()["id"]
    return item_id, client.get(f"/store/things/{item_id}").headers["ETag"]


def test_item_etag_answers_304_while_unchanged(client):
    item_id, etag = make(client, a=1)
    response = client.get(f"/store/things/{item_id}", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag


def test_item_etag_changes_with_every_write(client):
    item_id, first = make(client, a=1)
    client.post(f"/store/things/{item_id}", json={"a": 1})
    response = client.get(f"/store/things/{item_id}", headers={"If-None-Match": first})
    assert response.status_code == 200
    assert response.headers["ETag"] != first


def test_weak_form_of_the_etag_also_gives_304(client):
    item_id, etag = make(client, a=1)
    assert client.get(f"/store/things/{item_id}", headers={"If-None-Match": f"W/{etag}"}).status_code == 304


def test_list_etag_answers_304_while_unchanged(client):
    make(client, a=1)
    etag = client.get("/store/things").headers["ETag"]
    assert client.get("/store/things", headers={"If-None-Match": etag}).status_code == 304


def test_list_etag_changes_after_an_append(client):
    make(client, a=1)
    etag = client.get("/store/things").headers["ETag"]
    make(client, a=2)
    response = client.get("/store/things", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert len(response.get_json()) == 2


def test_list_etag_changes_after_a_delete(client):
    make(client, a=1)
    etag = client.get("/store/things").headers["ETag"]
    client.delete("/store/things/1")
    assert client.get("/store/things", headers={"If-None-Match": etag}).get_json() == []


def test_list_etag_differs_between_queries(client):
    make(client, a=1)
    assert client.get("/store/things").headers["ETag"] != client.get("/store/things?a=1").headers["ETag"]


def test_list_etag_of_a_store_that_does_not_exist_changes_when_it_is_created(client):
    etag = client.get("/store/things").headers["ETag"]
    assert client.get("/store/things", headers={"If-None-Match": etag}).status_code == 304
    make(client, a=1)
    assert client.get("/store/things", headers={"If-None-Match": etag}).status_code == 200


def test_jsonp_item_answers_304_while_unchanged(client):
    _, etag = make(client, a=1)
    assert client.get("/store/things/1?callback=cb").headers["ETag"] == etag
    assert client.get("/store/things/1?callback=cb", headers={"If-None-Match": etag}).status_code == 304


def test_jsonp_list_etag_differs_from_the_json_lists(client):
    make(client, a=1)
    jsonp_etag = client.get("/store/things?callback=cb").headers["ETag"]
    assert jsonp_etag != client.get("/store/things").headers["ETag"]
    assert client.get("/store/things?callback=cb", headers={"If-None-Match": jsonp_etag}).status_code == 304


def test_merge_with_the_current_etag_succeeds(client):
    item_id, etag = make(client, a=1)
    response = client.post(f"/store/things/{item_id}", json={"a": 2}, headers={"If-Match": etag})
    assert response.status_code == 200
    assert client.get(f"/store/things/{item_id}").get_json()["a"] == 2


def test_merge_with_a_stale_etag_is_412_and_writes_nothing(client):
    item_id, etag = make(client, a=1)
    client.post(f"/store/things/{item_id}", json={"a": 2})
    response = client.post(f"/store/things/{item_id}", json={"a": 3}, headers={"If-Match": etag})
    assert_error(response, 412, "precondition_failed")
    assert client.get(f"/store/things/{item_id}").get_json()["a"] == 2


def test_if_match_on_a_missing_item_is_412_and_creates_nothing(client):
    response = client.post("/store/things/5", json={"a": 1}, headers={"If-Match": "*"})
    assert response.status_code == 412
    assert client.get("/store/things/5").status_code == 404


def test_delete_with_a_stale_etag_is_412_and_deletes_nothing(client):
    item_id, etag = make(client, a=1)
    client.post(f"/store/things/{item_id}", json={"a": 2})
    assert client.delete(f"/store/things/{item_id}", headers={"If-Match": etag}).status_code == 412
    assert client.get(f"/store/things/{item_id}").status_code == 200


def test_delete_with_the_current_etag_deletes(client):
    item_id, etag = make(client, a=1)
    assert client.delete(f"/store/things/{item_id}", headers={"If-Match": etag}).status_code == 200
    assert client.get(f"/store/things/{item_id}").status_code == 404


def test_put_replaces_the_item_whole_and_keeps_created(client):
    item_id, _ = make(client, a=1, b=2)
    created = client.get(f"/store/things/{item_id}").get_json()["created"]
    response = client.put(f"/store/things/{item_id}", json={"c": 3, "created": 5})
    assert response.status_code == 200
    item = client.get(f"/store/things/{item_id}").get_json()
    assert {k: v for k, v in item.items() if k not in ("created", "updated")} == {"id": item_id, "c": 3}
    assert item["created"] == created
    assert response.get_json() == item
    assert response.headers["ETag"] == client.get(f"/store/things/{item_id}").headers["ETag"]


def test_put_of_a_missing_item_creates_it_with_201(client):
    response = client.put("/store/things/3", json={"a": 1})
    assert response.status_code == 201
    assert client.get("/store/things/3").get_json()["a"] == 1


def test_put_keeps_null_values(client):
    client.put("/store/things/3", json={"a": None})
    assert client.get("/store/things/3").get_json()["a"] is None


def test_put_with_a_stale_etag_is_412(client):
    item_id, etag = make(client, a=1)
    client.put(f"/store/things/{item_id}", json={"a": 2})
    assert client.put(f"/store/things/{item_id}", json={"a": 3}, headers={"If-Match": etag}).status_code == 412


def test_put_with_if_none_match_star_only_creates(client):
    assert client.put("/store/things/3", json={"a": 1}, headers={"If-None-Match": "*"}).status_code == 201
    assert client.put("/store/things/3", json={"a": 2}, headers={"If-None-Match": "*"}).status_code == 412
    assert client.get("/store/things/3").get_json()["a"] == 1


def test_patch_merges_nested_objects_per_rfc_7396(client):
    item_id, _ = make(client, title="x", author={"given": "John", "family": "Doe"}, tags=["a"])
    patch = {"title": "y", "author": {"family": None, "middle": "Q"}, "tags": ["b"], "phone": "1"}
    response = client.patch(f"/store/things/{item_id}", json=patch, headers={"Content-Type": MERGE})
    assert response.status_code == 200
    item = client.get(f"/store/things/{item_id}").get_json()
    assert (item["title"], item["author"], item["tags"], item["phone"]) == (
        "y", {"given": "John", "middle": "Q"}, ["b"], "1")
    assert response.get_json() == item


def test_patch_keeps_the_string_null(client):
    item_id, _ = make(client, a=1)
    client.patch(f"/store/things/{item_id}", json={"a": "null"}, headers={"Content-Type": MERGE})
    assert client.get(f"/store/things/{item_id}").get_json()["a"] == "null"


def test_patch_of_a_missing_item_creates_it_with_201(client):
    response = client.patch("/store/things/9", json={"a": {"b": None, "c": 1}}, headers={"Content-Type": MERGE})
    assert response.status_code == 201
    assert client.get("/store/things/9").get_json()["a"] == {"c": 1}


def test_patch_with_another_content_type_is_415(client):
    item_id, _ = make(client, a=1)
    response = client.patch(f"/store/things/{item_id}", data='{"a": 2}', content_type="text/plain")
    assert response.status_code == 415
    assert response.headers["Accept-Patch"] == f"{MERGE}, application/json"
    assert client.get(f"/store/things/{item_id}").get_json()["a"] == 1


def test_patch_with_a_stale_etag_is_412(client):
    item_id, etag = make(client, a=1)
    client.post(f"/store/things/{item_id}", json={"a": 2})
    response = client.patch(f"/store/things/{item_id}", json={"a": 3},
                            headers={"Content-Type": MERGE, "If-Match": etag})
    assert response.status_code == 412


def test_head_of_an_item_has_the_get_headers_and_no_body(client):
    item_id, etag = make(client, a=1)
    response = client.head(f"/store/things/{item_id}")
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["ETag"] == etag
    assert int(response.headers["Content-Length"]) > 0


def test_head_of_a_missing_item_is_404(client):
    assert client.head("/store/things/1").status_code == 404


def test_head_of_a_list_has_the_count(client):
    make(client, a=1)
    response = client.head("/store/things")
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["X-Total-Count"] == "1"


def test_head_of_the_store_index(client):
    assert client.head("/store").status_code == 200
