import threading

import pytest

from support import assert_error, wait_until


def _put(client, key, body, **headers):
    return client.put(f"/kv/{key}", data=body, content_type="text/plain", headers=headers)


def test_if_match_with_the_current_etag_writes(client):
    etag = _put(client, "c", b"1").headers["ETag"]
    response = _put(client, "c", b"2", **{"If-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != etag
    assert client.get("/kv/c").get_data() == b"2"


def test_if_match_with_a_stale_etag_is_412_and_keeps_the_value(client):
    stale = _put(client, "c", b"1").headers["ETag"]
    _put(client, "c", b"2")
    response = _put(client, "c", b"3", **{"If-Match": stale})
    assert_error(response, 412, "precondition_failed")
    assert client.get("/kv/c").get_data() == b"2"


def test_if_match_accepts_an_unquoted_etag_from_a_listing(client):
    _put(client, "c", b"1")
    etag = client.get("/kv/c?keys").get_json()[0]["etag"]
    assert _put(client, "c", b"2", **{"If-Match": etag}).status_code == 200


def test_if_match_on_a_missing_key_is_412_and_stores_nothing(client):
    assert _put(client, "c", b"1", **{"If-Match": '"abc"'}).status_code == 412
    assert _put(client, "c", b"1", **{"If-Match": "*"}).status_code == 412
    assert client.get("/kv/c").status_code == 404


def test_if_match_star_writes_over_any_value(client):
    _put(client, "c", b"1")
    assert _put(client, "c", b"2", **{"If-Match": "*"}).status_code == 200


def test_if_none_match_star_writes_only_when_absent(client):
    assert _put(client, "lock", b"me", **{"If-None-Match": "*"}).status_code == 200
    response = _put(client, "lock", b"you", **{"If-None-Match": "*"})
    assert response.status_code == 412
    assert client.get("/kv/lock").get_data() == b"me"


def test_if_none_match_star_on_a_form_post(client):
    assert client.post("/kv/f", data={"a": "1"}, headers={"If-None-Match": "*"}).status_code == 200
    assert client.post("/kv/f", data={"a": "2"}, headers={"If-None-Match": "*"}).status_code == 412


def test_delete_with_a_stale_if_match_is_412_and_keeps_the_value(client):
    stale = _put(client, "d", b"1").headers["ETag"]
    _put(client, "d", b"2")
    assert client.delete("/kv/d", headers={"If-Match": stale}).status_code == 412
    assert client.get("/kv/d").get_data() == b"2"


def test_delete_with_the_current_if_match_removes_the_value(client):
    etag = _put(client, "d", b"1").headers["ETag"]
    assert client.delete("/kv/d", headers={"If-Match": etag}).status_code == 200
    assert client.get("/kv/d").status_code == 404


def test_two_writers_with_the_same_if_match_exactly_one_wins(app):
    etag = _put(app.test_client(), "race", b"start").headers["ETag"]
    for round_ in range(10):
        barrier = threading.Barrier(2)
        statuses = {}

        def write(name):
            client = app.test_client()
            barrier.wait()
            statuses[name] = _put(client, "race", name.encode(), **{"If-Match": etag}).status_code

        threads = [threading.Thread(target=write, args=(f"w{round_}-{n}",)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(statuses.values()) == [200, 412]
        winner = next(name for name, status in statuses.items() if status == 200)
        response = app.test_client().get("/kv/race")
        assert response.get_data() == winner.encode()
        etag = response.headers["ETag"]


def test_value_with_a_ttl_expires(client):
    response = client.put("/kv/short?ttl=1", data=b"soon gone", content_type="text/plain")
    assert response.status_code == 200
    assert client.get("/kv/short").get_data() == b"soon gone"
    wait_until(lambda: client.get("/kv/short").status_code == 404, 5, "the value to expire")
    assert client.get("/kv/short?callback=cb").get_data(as_text=True) == 'cb({"message":"key not found"});'


def test_x_ttl_header_sets_the_expiry(client):
    assert client.put("/kv/short", data=b"x", content_type="text/plain", headers={"X-TTL": "1"}).status_code == 200
    wait_until(lambda: client.get("/kv/short").status_code == 404, 5, "the value to expire")


def test_value_with_a_ttl_carries_an_expires_header(client):
    assert client.put("/kv/later?ttl=3600", data=b"x", content_type="text/plain").status_code == 200
    assert client.get("/kv/later").headers["Expires"].endswith(" GMT")


def test_a_write_without_ttl_keeps_the_value_for_good(client):
    assert client.put("/kv/k?ttl=3600", data=b"1", content_type="text/plain").status_code == 200
    assert client.put("/kv/k", data=b"2", content_type="text/plain").status_code == 200
    response = client.get("/kv/k")
    assert response.status_code == 200
    assert "Expires" not in response.headers


def test_an_expired_key_counts_as_absent_for_if_none_match(client):
    assert client.put("/kv/lease?ttl=1", data=b"a", content_type="text/plain").status_code == 200
    wait_until(lambda: client.get("/kv/lease").status_code == 404, 5, "the lease to expire")
    assert _put(client, "lease", b"b", **{"If-None-Match": "*"}).status_code == 200


def test_delete_of_an_expired_key_is_404(client):
    assert client.put("/kv/gone?ttl=1", data=b"a", content_type="text/plain").status_code == 200
    wait_until(lambda: client.get("/kv/gone").status_code == 404, 5, "the value to expire")
    assert client.delete("/kv/gone").status_code == 404


def test_expired_keys_are_not_listed(client):
    assert client.put("/kv/l/short?ttl=1", data=b"a", content_type="text/plain").status_code == 200
    assert client.put("/kv/l/long", data=b"b", content_type="text/plain").status_code == 200
    wait_until(lambda: [e["key"] for e in client.get("/kv/l/?keys").get_json()] == ["l/long"], 5,
               "the expired key to leave the listing")


@pytest.mark.parametrize("ttl", ["0", "-1", "abc", "1.5", "", "99999999999"])
def test_bad_ttl_is_400_and_nothing_stored(client, ttl):
    response = client.put(f"/kv/t?ttl={ttl}", data=b"x", content_type="text/plain")
    assert_error(response, 400, "bad_ttl")
    assert client.get("/kv/t").status_code == 404


def test_bad_x_ttl_header_is_400(client):
    assert client.put("/kv/t", data=b"x", content_type="text/plain", headers={"X-TTL": "soon"}).status_code == 400
