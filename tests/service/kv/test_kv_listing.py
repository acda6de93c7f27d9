import pytest

KEYS = ["app/settings/theme", "app/settings/lang", "app/settingsX", "app/other", "apz", "b"]


@pytest.fixture
def filled(client):
    for key in KEYS:
        client.put(f"/kv/{key}", data=key.encode(), content_type="text/plain")
    return client


def test_prefix_listing_returns_only_the_keys_under_the_prefix_sorted(filled):
    response = filled.get("/kv/app/settings/?keys")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert [entry["key"] for entry in response.get_json()] == ["app/settings/lang", "app/settings/theme"]


def test_prefix_is_a_string_prefix(filled):
    keys = [entry["key"] for entry in filled.get("/kv/app/settings?keys").get_json()]
    assert keys == ["app/settings/lang", "app/settings/theme", "app/settingsX"]


def test_listing_entries_carry_the_metadata(filled):
    entry = filled.get("/kv/b?keys").get_json()[0]
    assert set(entry) == {"key", "content_type", "size", "etag", "modified", "expires"}
    assert entry["content_type"] == "text/plain"
    assert entry["size"] == 1
    assert f'"{entry["etag"]}"' == filled.get("/kv/b").headers["ETag"]
    assert entry["expires"] is None


def test_listing_at_the_root_returns_every_key_of_the_namespace(filled):
    assert [entry["key"] for entry in filled.get("/kv/?keys").get_json()] == sorted(KEYS)


def test_listing_limit_returns_the_first_keys(filled):
    assert [entry["key"] for entry in filled.get("/kv/?keys&limit=2").get_json()] == sorted(KEYS)[:2]


@pytest.mark.parametrize("limit", ["0", "-3", "many"])
def test_bad_listing_limit_is_400(filled, limit):
    assert filled.get(f"/kv/?keys&limit={limit}").status_code == 400


def test_listing_under_jsonp(filled):
    response = filled.get("/kv/apz?keys&callback=cb")
    assert response.mimetype == "application/javascript"
    text = response.get_data(as_text=True)
    assert text.startswith('cb([{"key":"apz","content_type":"text/plain","size":3,') and text.endswith("]);")


def test_listing_of_a_prefix_without_keys_is_an_empty_list(filled):
    assert filled.get("/kv/nothing/?keys").get_json() == []


def test_listing_of_a_missing_namespace_is_an_empty_list(client):
    assert client.get("/kv/?keys", headers={"Uid": "empty"}).get_json() == []


def test_listing_is_per_namespace(filled):
    filled.put("/kv/app/settings/mine", data=b"x", content_type="text/plain", headers={"Uid": "alice"})
    keys = [entry["key"] for entry in filled.get("/kv/app/?keys", headers={"Uid": "alice"}).get_json()]
    assert keys == ["app/settings/mine"]


def test_listing_with_a_bad_prefix_is_400(filled):
    assert filled.get("/kv/a/../?keys").status_code == 400


def test_listing_without_the_trailing_slash_lists_every_key(filled):
    assert [entry["key"] for entry in filled.get("/kv?keys").get_json()] == sorted(KEYS)
