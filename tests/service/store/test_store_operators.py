"""json-server's filter operators (0.17 suffixes, 1.x `:op`), `q`, and how they combine, over HTTP."""
import pytest

POSTS = [
    {"title": "first post", "views": 10, "rating": "5", "author": {"name": "Ann", "tags": ["x"]}},
    {"title": "Second post", "views": 30, "rating": "40", "author": {"name": "bob"}},
    {"title": "third", "views": 2.5, "author": {"name": "Cid", "bio": "likes SECOND breakfasts"}},
    {"title": "fourth [draft]", "views": "30", "draft": True},
    {"title": "fifth", "views": None},
]


@pytest.fixture
def posts(client):
    for post in POSTS:
        assert client.post("/store/posts", json=post).status_code == 200
    return client


def titles(response):
    assert response.status_code == 200, response.data
    return [item["title"] for item in response.get_json()]


@pytest.mark.parametrize("query, expected", [
    ("views_gte=30", ["Second post", "fourth [draft]"]),
    ("views_lte=20", ["first post", "third"]),
    ("views_ne=10", ["Second post", "third", "fourth [draft]", "fifth"]),
    ("views:gt=10", ["Second post", "fourth [draft]"]),
    ("views:lt=10", ["third"]),
    ("views:eq=30", ["Second post", "fourth [draft]"]),
    ("views:in=10,2.5", ["first post", "third"]),
])
def test_number_operators(posts, query, expected):
    assert titles(posts.get(f"/store/posts?{query}")) == expected


def test_a_number_compares_as_text_with_string_fields(posts):
    assert titles(posts.get("/store/posts?rating_gte=5")) == ["first post"]  # "40" < "5" as text
    assert titles(posts.get("/store/posts?rating:lt=5")) == ["Second post"]


def test_a_text_value_never_compares_with_numbers(posts):
    assert titles(posts.get("/store/posts?views_gte=abc")) == []


@pytest.mark.parametrize("query, expected", [
    ("title_like=^f", ["first post", "fourth [draft]", "fifth"]),
    ("title_like=POST$", ["first post", "Second post"]),
    ("id_like=1|3", ["first post", "third"]),
    ("views_like=^3", ["Second post", "fourth [draft]"]),
])
def test_like_is_a_case_insensitive_regular_expression(posts, query, expected):
    assert titles(posts.get(f"/store/posts?{query}")) == expected


@pytest.mark.parametrize("query, expected", [
    ("title:contains=POST", ["first post", "Second post"]),
    ("title:startsWith=f", ["first post", "fourth [draft]", "fifth"]),
    ("title:endsWith=]", ["fourth [draft]"]),
    ("title:contains=%", []),
    ("views:contains=3", ["fourth [draft]"]),  # the string "30"; numbers are not strings
])
def test_substring_operators_match_strings_ignoring_case(posts, query, expected):
    assert titles(posts.get(f"/store/posts?{query}")) == expected


def test_q_searches_every_string_value_nested_too(posts):
    assert titles(posts.get("/store/posts?q=second")) == ["Second post", "third"]


def test_q_ignores_numbers_and_keys(posts):
    assert titles(posts.get("/store/posts?q=30")) == ["fourth [draft]"]
    assert titles(posts.get("/store/posts?q=views")) == []


def test_empty_q_is_no_filter(posts):
    assert len(titles(posts.get("/store/posts?q="))) == 5


def test_dotted_paths_reach_nested_fields(posts):
    assert titles(posts.get("/store/posts?author.name_like=^[ab]")) == ["first post", "Second post"]
    assert titles(posts.get("/store/posts?author.name:in=Cid,bob")) == ["Second post", "third"]


def test_a_missing_field_matches_no_operator(posts):
    assert titles(posts.get("/store/posts?author.name_ne=Ann")) == ["Second post", "third"]
    assert titles(posts.get("/store/posts?nothing_like=.")) == []


def test_operators_combine_with_each_other(posts):
    assert titles(posts.get("/store/posts?views_gte=10&title_like=post&views_ne=10")) == ["Second post"]


def test_two_bounds_on_one_field_both_hold(posts):
    assert titles(posts.get("/store/posts?views_gte=2&views_lte=10")) == ["first post", "third"]


def test_operators_combine_with_sort_paging_and_total(posts):
    response = posts.get("/store/posts?views_gte=0&_sort=-views&_limit=2")
    assert titles(response) == ["fourth [draft]", "Second post"]  # strings sort after numbers
    assert response.headers["X-Total-Count"] == "4"  # "30" >= "0" as text too
    assert "views_gte=0" in response.headers["Link"]


def test_operators_combine_with_since(posts):
    third = posts.get("/store/posts?title=third").get_json()[0]
    assert titles(posts.get(f"/store/posts?title:startsWith=t&_since={third['created'] - 1}")) == ["third"]


def test_operators_stay_within_the_namespace(posts):
    assert posts.get("/store/posts?views_gte=0", headers={"Uid": "someone-else"}).get_json() == []


def test_kept_columns_take_operators(posts):
    assert titles(posts.get("/store/posts?id_gte=4")) == ["fourth [draft]", "fifth"]
    assert titles(posts.get("/store/posts?id:ne=1&id:lt=3")) == ["Second post"]


@pytest.mark.parametrize("query, parameter", [
    ("views:between=1", "views:between"),
    ("title_like=(", "title_like"),
    ("title_like=" + "a" * 300, "title_like"),
    ("views_gte=", "views_gte"),
    ("views:in=", "views:in"),
    ("views:lt=true", "views:lt"),
    ("a-b:eq=1", "a-b:eq"),
])
def test_a_query_it_cannot_use_is_a_400_naming_the_parameter(posts, query, parameter):
    response = posts.get(f"/store/posts?{query}")
    assert response.status_code == 400
    assert response.get_json()["code"] == "bad_query"
    assert parameter in response.get_json()["message"]
