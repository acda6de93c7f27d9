"""Paging, sorting, filtering and counting lists over HTTP (the conventions of store.query)."""
import pytest

PEOPLE = [
    {"name": "ann", "age": 31, "city": "Paris", "admin": True, "address": {"zip": "75001"}},
    {"name": "bob", "age": 25, "city": "Lyon", "admin": False, "address": {"zip": "69001"}},
    {"name": "cid", "age": 31, "city": "Paris", "admin": False, "address": {"zip": "75002"}},
    {"name": "dee", "age": 19.5, "city": "Nice", "admin": True},
    {"name": "eve", "age": "31", "city": None},
]


@pytest.fixture
def people(client):
    for person in PEOPLE:
        assert client.post("/store/people", json=person).status_code == 200
    return client


def names(response):
    assert response.status_code == 200, response.data
    return [item["name"] for item in response.get_json()]


def test_limit_and_offset_give_a_page(people):
    assert names(people.get("/store/people?_limit=2&_offset=1")) == ["bob", "cid"]


def test_total_count_header_counts_every_matching_item(people):
    response = people.get("/store/people?_limit=2")
    assert response.headers["X-Total-Count"] == "5"


def test_total_count_header_is_there_without_paging(people):
    assert people.get("/store/people").headers["X-Total-Count"] == "5"


def test_total_count_counts_an_offset_past_the_end(people):
    response = people.get("/store/people?_offset=10")
    assert response.get_json() == []
    assert response.headers["X-Total-Count"] == "5"


def test_link_header_points_to_the_next_page(people):
    link = people.get("/store/people?_limit=2&city=Paris&_limit=2").headers.get("Link")
    assert link is None  # two Paris people fit on one page
    link = people.get("/store/people?_limit=2").headers["Link"]
    assert link == '<http://localhost/store/people?_limit=2&_offset=2>; rel="next"'


def test_following_next_links_reaches_every_item_once(people):
    url, seen = "/store/people?_limit=2&_sort=-name", []
    while url:
        response = people.get(url)
        seen += names(response)
        link = response.headers.get("Link")
        url = link[len("<http://localhost"):link.index(">")] if link else None
    assert seen == ["eve", "dee", "cid", "bob", "ann"]


def test_last_page_has_no_link(people):
    assert "Link" not in people.get("/store/people?_limit=2&_offset=4").headers


def test_json_server_start_and_end_slice(people):
    assert names(people.get("/store/people?_start=1&_end=3")) == ["bob", "cid"]


def test_json_server_page_and_per_page(people):
    assert names(people.get("/store/people?_page=2&_per_page=2")) == ["cid", "dee"]


def test_page_with_limit_uses_limit_as_page_size(people):
    assert names(people.get("/store/people?_page=3&_limit=2")) == ["eve"]


def test_page_without_size_uses_ten(people):
    assert len(people.get("/store/people?_page=1").get_json()) == 5


def test_limit_zero_gives_only_the_count(people):
    response = people.get("/store/people?_limit=0")
    assert response.get_json() == []
    assert response.headers["X-Total-Count"] == "5"


def test_sort_descending_with_a_minus(people):
    assert names(people.get("/store/people?_sort=-name")) == ["eve", "dee", "cid", "bob", "ann"]


def test_sort_by_two_fields(people):
    assert names(people.get("/store/people?_sort=city,-name&city=Paris&city=Lyon")) == ["bob", "cid", "ann"]


def test_sort_ties_are_broken_by_id(people):
    assert names(people.get("/store/people?_sort=admin")) == ["eve", "bob", "cid", "ann", "dee"]


def test_sort_with_json_server_order(people):
    assert names(people.get("/store/people?_sort=name&_order=desc")) == ["eve", "dee", "cid", "bob", "ann"]


def test_sort_numbers_before_strings_and_missing_first(people):
    assert names(people.get("/store/people?_sort=age")) == ["dee", "bob", "ann", "cid", "eve"]


def test_sort_by_nested_field(people):
    assert names(people.get("/store/people?_sort=-address.zip&admin=false")) == ["cid", "bob"]


def test_sort_by_updated(people):
    people.post("/store/people/1", json={"touched": 1})
    assert names(people.get("/store/people?_sort=-updated"))[0] == "ann"


def test_filter_by_string_field(people):
    assert names(people.get("/store/people?city=Paris")) == ["ann", "cid"]


def test_filter_by_number_matches_numbers_and_the_same_string(people):
    assert names(people.get("/store/people?age=31")) == ["ann", "cid", "eve"]


def test_filter_by_float(people):
    assert names(people.get("/store/people?age=19.5")) == ["dee"]


def test_filter_by_boolean(people):
    assert names(people.get("/store/people?admin=true")) == ["ann", "dee"]


def test_filter_by_null(people):
    assert names(people.get("/store/people?city=null")) == ["eve"]


def test_filter_by_nested_field(people):
    assert names(people.get("/store/people?address.zip=75002")) == ["cid"]


def test_repeated_filter_matches_any_value(people):
    assert names(people.get("/store/people?name=bob&name=eve")) == ["bob", "eve"]


def test_filters_on_different_fields_all_apply(people):
    assert names(people.get("/store/people?city=Paris&admin=false")) == ["cid"]


def test_filter_by_id(people):
    assert names(people.get("/store/people?id=2&id=4")) == ["bob", "dee"]


def test_filter_by_missing_field_matches_nothing(people):
    assert people.get("/store/people?nope=1").get_json() == []


def test_filter_with_count_and_paging(people):
    response = people.get("/store/people?age=31&_limit=1")
    assert names(response) == ["ann"]
    assert response.headers["X-Total-Count"] == "3"


def test_since_gives_items_updated_after(people):
    updated = people.get("/store/people/3").get_json()["updated"]
    people.post("/store/people/1", json={"touched": 1})
    assert names(people.get(f"/store/people?_since={updated}")) == ["ann", "dee", "eve"]


def test_callback_is_not_a_filter(people):
    text = people.get("/store/people?callback=cb&_limit=1").get_data(as_text=True)
    assert text.startswith('cb([{"id":1,"name":"ann"')


def test_paging_headers_come_with_jsonp_too(people):
    response = people.get("/store/people?callback=cb&_limit=1")
    assert response.headers["X-Total-Count"] == "5"
    assert 'rel="next"' in response.headers["Link"]
