"""json-server's relations `_embed` and `_expand` on lists and items, and PATCH with application/json."""
import pytest

from store.relations import plural, singular


@pytest.fixture
def blog(client):
    for post in ({"title": "one"}, {"title": "two"}):
        client.post("/store/posts", json=post)
    for comment in ({"body": "a", "postId": 1}, {"body": "b", "postId": 1}, {"body": "c", "postId": "2"},
                    {"body": "orphan", "postId": 9}):
        client.post("/store/comments", json=comment)
    client.post("/store/likes", json={"postId": 2})
    return client


def test_singular_and_plural_are_the_regular_english_forms():
    assert [singular(name) for name in ("posts", "categories", "data")] == ["post", "category", "data"]
    assert [plural(name) for name in ("post", "category", "day")] == ["posts", "categories", "days"]


def test_embed_adds_the_children_of_every_item_of_a_list(blog):
    posts = blog.get("/store/posts?_embed=comments").get_json()
    assert [[comment["body"] for comment in post["comments"]] for post in posts] == [["a", "b"], ["c"]]


def test_embed_several_relations_at_once(blog):
    posts = blog.get("/store/posts?_embed=comments&_embed=likes").get_json()
    assert [len(post["likes"]) for post in posts] == [0, 1]
    assert all("comments" in post for post in posts)


def test_embed_on_an_item(blog):
    post = blog.get("/store/posts/1?_embed=comments").get_json()
    assert [comment["body"] for comment in post["comments"]] == ["a", "b"]


def test_expand_adds_the_parent_named_by_its_id(blog):
    comments = blog.get("/store/comments?_expand=post").get_json()
    assert [comment.get("post", {}).get("title") for comment in comments] == ["one", "one", "two", None]


def test_expand_on_an_item(blog):
    assert blog.get("/store/comments/3?_expand=post").get_json()["post"]["title"] == "two"


def test_relations_combine_with_filters_and_paging(blog):
    response = blog.get("/store/comments?_expand=post&body_ne=a&_limit=1")
    assert [(c["body"], c["post"]["title"]) for c in response.get_json()] == [("b", "one")]
    assert response.headers["X-Total-Count"] == "3"


def test_relations_stay_within_the_namespace(blog):
    blog.post("/store/posts", json={"title": "other"}, headers={"Uid": "other"})
    post = blog.get("/store/posts?_embed=comments", headers={"Uid": "other"}).get_json()[0]
    assert post["comments"] == []


def test_the_etag_changes_when_an_embedded_store_changes(blog):
    etag = blog.get("/store/posts?_embed=comments").headers["ETag"]
    assert blog.get("/store/posts?_embed=comments", headers={"If-None-Match": etag}).status_code == 304
    blog.post("/store/comments", json={"body": "new", "postId": 2})
    response = blog.get("/store/posts?_embed=comments", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert [c["body"] for c in response.get_json()[1]["comments"]] == ["c", "new"]


def test_a_bad_relation_name_is_a_400(blog):
    assert blog.get("/store/posts?_embed=a%20b").status_code == 400


def test_patch_with_application_json_merges_like_merge_patch(client):
    client.post("/store/s", json={"size": {"waist": 30, "leg": 32}, "colour": "blue"})
    response = client.patch("/store/s/1", json={"size": {"waist": 32}, "colour": None})
    assert response.status_code == 200
    assert {k: v for k, v in response.get_json().items() if k not in ("created", "updated")} == {
        "id": 1, "size": {"waist": 32, "leg": 32}}
    assert response.headers["ETag"] == client.get("/store/s/1").headers["ETag"]


def test_patch_with_merge_patch_gives_the_same_item(client):
    client.post("/store/s", json={"size": {"waist": 30, "leg": 32}, "colour": "blue"})
    response = client.patch("/store/s/1", data='{"size": {"waist": 32}, "colour": null}',
                            content_type="application/merge-patch+json")
    assert response.get_json()["size"] == {"waist": 32, "leg": 32}
    assert "colour" not in response.get_json()
