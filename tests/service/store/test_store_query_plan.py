"""The SQL of filtered lists: EXPLAIN QUERY PLAN of the common queries, without HTTP (SQLite's plans;
PostgreSQL's indexes are pinned in test_store_db.py)."""
import pytest
from werkzeug.datastructures import MultiDict

from store import query as list_query, sqlite_query


def plan(store, query_string):
    store.append("DEFAULT", "posts", {"title": "a", "views": 1})
    query = list_query.parse(MultiDict([pair.split("=", 1) for pair in query_string.split("&")]))
    where, params = sqlite_query.where("posts", query)
    connection = store.databases.connection(store.path("DEFAULT"))
    sqlite_query.prepare(connection)
    sql = f"SELECT data FROM items WHERE {where} ORDER BY {sqlite_query.order_by(query, params)} LIMIT 10"
    return " | ".join(row[-1] for row in connection.execute(f"EXPLAIN QUERY PLAN {sql}", params))


@pytest.mark.sqlite_only
@pytest.mark.parametrize("query_string", ["views_gte=30", "views:lt=3", "title_like=^f", "views_ne=10",
                                          "title:contains=x", "author.name=Ann", "id_gte=5&views:in=1,2"])
def test_a_filtered_page_reads_the_store_in_id_order_and_stops_at_the_limit(store, query_string):
    steps = plan(store, query_string)
    assert "SEARCH items USING PRIMARY KEY (store=?" in steps
    assert "TEMP B-TREE" not in steps  # no sort of the whole store: the page is the first matches


@pytest.mark.sqlite_only
def test_full_text_search_walks_each_item_s_values_in_sql(store):
    steps = plan(store, "q=second")
    assert "SEARCH items USING PRIMARY KEY (store=?)" in steps
    assert "CORRELATED SCALAR SUBQUERY" in steps and "VIRTUAL TABLE" in steps


@pytest.mark.sqlite_only
def test_a_sorted_filtered_page_sorts_only_the_matching_items(store):
    assert "USE TEMP B-TREE FOR ORDER BY" in plan(store, "views_gte=1&_sort=-views")


def test_the_regular_expression_runs_inside_sqlite(store):
    store.append("DEFAULT", "posts", {"title": "first"})
    store.append("DEFAULT", "posts", {"title": "other"})
    page = store.list("DEFAULT", "posts", list_query.parse(MultiDict([("title_like", "^F")])))
    assert [text for text in page.items if '"first"' in text] == page.items and page.total == 1
