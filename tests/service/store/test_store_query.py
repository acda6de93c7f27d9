"""The list conventions of store.query, without HTTP."""
import pytest
from werkzeug.datastructures import MultiDict

from hipflask.errors import HipflaskError

from store.query import Filter, Query, next_page, parse


def parsed(query_string):
    return parse(MultiDict([pair.split("=", 1) for pair in query_string.split("&") if pair]))


def test_no_parameters_is_the_whole_store_in_id_order():
    assert parsed("") == Query()
    assert not Query().paged


def test_limit_and_offset():
    assert (parsed("_limit=5&_offset=10").limit, parsed("_limit=5&_offset=10").offset) == (5, 10)


def test_start_and_end_are_a_slice():
    query = parsed("_start=3&_end=7")
    assert (query.offset, query.limit) == (3, 4)


def test_an_end_before_the_start_is_an_empty_slice():
    assert parsed("_start=7&_end=3").limit == 0


def test_page_counts_from_one_with_per_page():
    query = parsed("_page=3&_per_page=20")
    assert (query.offset, query.limit) == (40, 20)


def test_page_defaults_to_ten_items():
    assert parsed("_page=2") == Query(limit=10, offset=10)


def test_sort_fields_with_minus_for_descending():
    assert parsed("_sort=a,-b.c").sort == ((("a",), False), (("b", "c"), True))


def test_one_order_applies_to_every_sorted_field():
    assert parsed("_sort=a,b&_order=desc").sort == ((("a",), True), (("b",), True))


def test_one_order_per_sorted_field():
    assert parsed("_sort=a,b&_order=desc,asc").sort == ((("a",), True), (("b",), False))


def test_other_parameters_are_filters_with_every_value():
    query = parse(MultiDict([("city", "Paris"), ("city", "Lyon"), ("address.zip", "1"), ("callback", "cb")]))
    assert query.filters == (Filter(("city",), ("Paris", "Lyon")), Filter(("address", "zip"), ("1",)))


def test_since_is_an_integer():
    assert parsed("_since=1700000000000").since == 1700000000000


@pytest.mark.parametrize("query_string", ["_limit=-1", "_limit=ten", "_page=0", "_sort=-", "_bogus=1", "a b=1"])
def test_a_parameter_it_cannot_use_is_a_400(query_string):
    with pytest.raises(HipflaskError) as raised:
        parsed(query_string)
    assert raised.value.status == 400


def test_next_page_keeps_filters_and_sort_and_moves_the_offset():
    args = MultiDict([("city", "Paris"), ("_sort", "-id"), ("_page", "2"), ("_per_page", "5")])
    assert next_page(args, parse(args)) == [("city", "Paris"), ("_sort", "-id"), ("_limit", "5"), ("_offset", "10")]
