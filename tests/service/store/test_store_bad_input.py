"""Bad input: a clear 4xx in the one error shape, never a 500, nothing written."""
import pytest

from support import assert_error

from store.wsgi import build


def assert_nothing_stored(client):
    assert client.get("/store/things").get_json() == []


@pytest.mark.parametrize("item_id", ["abc", "-1", "0", "1.5", "1e3", "9007199254740992", "99999999999999999999", " 1"])
@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "HEAD"])
def test_an_id_that_is_not_a_positive_integer_is_400(client, method, item_id):
    response = client.open(f"/store/things/{item_id}", method=method, json={"a": 1})
    assert response.status_code == 400
    if method != "HEAD":
        assert_error(response, 400, "bad_id")
    assert_nothing_stored(client)


def test_patch_with_a_bad_id_is_400(client):
    response = client.patch("/store/things/-2", json={"a": 1},
                            headers={"Content-Type": "application/merge-patch+json"})
    assert_error(response, 400, "bad_id")


def test_delete_list_with_one_bad_id_deletes_nothing(client):
    client.post("/store/things", json={"a": 1})
    assert_error(client.delete("/store/things/1,x"), 400, "bad_id")
    assert client.get("/store/things/1").status_code == 200


def test_delete_of_too_many_ids_at_once_is_400(client):
    assert_error(client.delete("/store/things/" + ",".join(map(str, range(1, 1002)))), 400, "bad_id")


def test_the_largest_javascript_safe_id_is_accepted(client):
    assert client.post("/store/things/9007199254740991", json={"a": 1}).status_code == 200
    assert client.get("/store/things/9007199254740991").get_json()["a"] == 1


def test_append_after_the_largest_id_is_refused_cleanly(client):
    client.post("/store/things/9007199254740991", json={"a": 1})
    assert_error(client.post("/store/things", json={"a": 2}), 409, "ids_exhausted")
    assert len(client.get("/store/things").get_json()) == 1


@pytest.mark.parametrize("body", [b"{bad", b'{"a": 1', b"", b"\xff\xfe", b'{"a": NaN}', b'{"a": Infinity}'])
def test_malformed_json_is_400_and_stores_nothing(client, body):
    assert_error(client.post("/store/things", data=body, content_type="application/json"), 400, "bad_json")
    assert_nothing_stored(client)


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"3", b"null", b"true"])
def test_a_json_body_that_is_not_an_object_is_400(client, body):
    assert_error(client.post("/store/things", data=body, content_type="application/json"), 400, "bad_json")
    assert_error(client.post("/store/things/1", data=body, content_type="application/json"), 400, "bad_json")
    assert_error(client.put("/store/things/1", data=body, content_type="application/json"), 400, "bad_json")
    assert_error(client.patch("/store/things/1", data=body, content_type="application/merge-patch+json"),
                 400, "bad_json")
    assert_nothing_stored(client)


def test_malformed_json_merge_leaves_the_item_alone(client):
    client.post("/store/things", json={"a": 1})
    client.post("/store/things/1", data=b"{", content_type="application/json")
    assert client.get("/store/things/1").get_json()["a"] == 1


@pytest.mark.parametrize("name", ["b@d", ".hidden", "-dash", "_under", "a" * 129, "sp%20ace", "%C3%A9t%C3%A9", "a;b"])
def test_a_store_name_that_is_not_a_plain_name_is_400(client, name):
    assert_error(client.post(f"/store/{name}", json={"a": 1}), 400, "bad_store_name")
    assert_error(client.get(f"/store/{name}"), 400, "bad_store_name")
    assert_error(client.get(f"/store/{name}/1"), 400, "bad_store_name")
    assert_error(client.delete(f"/store/{name}/1"), 400, "bad_store_name")
    assert client.get("/store").get_json() == []


@pytest.mark.parametrize("name", ["a", "A9", "my_test_list", "v1.2-beta", "a" * 128])
def test_plain_store_names_are_accepted(client, name):
    assert client.post(f"/store/{name}", json={"a": 1}).get_json() == {"id": 1}


def test_a_body_over_the_limit_is_413_and_stores_nothing(build_app):
    client = build_app(build, MAX_BODY_SIZE="1k").test_client()
    assert_error(client.post("/store/things", json={"a": "x" * 2000}), 413)
    assert_error(client.post("/store/things", data={"a": "x" * 2000}), 413)
    assert_error(client.post("/store/things/1", json={"a": "x" * 2000}), 413)
    assert_error(client.put("/store/things/1", json={"a": "x" * 2000}), 413)
    assert_nothing_stored(client)


def test_a_body_under_the_limit_is_stored(build_app):
    client = build_app(build, MAX_BODY_SIZE="1k").test_client()
    assert client.post("/store/things", json={"a": "x" * 500}).status_code == 200


@pytest.mark.parametrize("query", ["_limit=x", "_limit=-1", "_offset=1.5", "_page=0", "_since=yesterday",
                                   "_sort=a-b", "_sort=a,,b..c", "_order=up&_sort=a", "_sort=a,b&_order=asc,desc,asc",
                                   "a-b=1", "a..b=1", "_unknown=1", "_embedded=x", "views:between=1", "title_like=(",
                                   "views_gte="])
def test_a_bad_list_parameter_is_400(client, query):
    assert_error(client.get(f"/store/things?{query}"), 400, "bad_query")


def test_a_bad_callback_is_400_and_stores_nothing(client):
    response = client.post("/store/things?callback=alert(1)//", json={"a": 1})
    assert_error(response, 400, "bad_callback")
    assert "alert" not in response.get_data(as_text=True)
    assert_nothing_stored(client)


def test_a_method_the_store_does_not_have_is_405_in_the_error_shape(client):
    assert_error(client.delete("/store/things"), 405)


def test_a_path_below_an_item_is_404_in_the_error_shape(client):
    assert_error(client.get("/store/things/1/more"), 404)


def test_a_user_header_of_the_longest_accepted_form_gets_its_own_namespace(client):
    longest = "u" * 128
    assert client.post("/store/things", json={"a": 1}, headers={"Uid": longest}).get_json() == {"id": 1}
    assert client.get("/store/things/1", headers={"Uid": longest}).get_json()["a"] == 1
    assert client.get("/store/things/1", headers={"Uid": longest[:-1]}).status_code == 404


@pytest.mark.sqlite_only
def test_a_user_header_too_long_for_a_namespace_is_400_and_writes_nothing(client, data_dir):
    assert_error(client.post("/store/things", json={"a": 1}, headers={"Uid": "é" * 128}), 400, "bad_namespace")
    assert list(data_dir.iterdir()) == []
