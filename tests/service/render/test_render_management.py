"""Managing templates over HTTP: token, PUT, DELETE, listing, events, replicas and the response cache."""
import pytest

from support import assert_error

from render.templates import content_etag
from render.wsgi import build


def test_put_with_the_token_creates_then_replaces(client, auth):
    created = client.put("/template/page.html", data=b"one", headers=auth)
    assert created.status_code == 201
    assert created.get_json() == {"template": "page.html", "created": True}
    replaced = client.put("/template/page.html", data=b"two", headers=auth)
    assert replaced.status_code == 200
    assert replaced.get_json() == {"template": "page.html", "created": False}


def test_put_answers_the_etag_that_reading_the_template_then_answers(client, auth):
    written = client.put("/template/tagged.html", data=b"one", headers=auth)
    assert written.headers["ETag"] == client.get("/template/tagged.html").headers["ETag"]


def test_a_replaced_template_has_a_new_etag(client, auth):
    first = client.put("/template/tagged.html", data=b"one", headers=auth).headers["ETag"]
    assert client.put("/template/tagged.html", data=b"two", headers=auth).headers["ETag"] != first


def test_reading_a_template_with_its_current_etag_is_304(client, auth):
    etag = client.put("/template/tagged.html", data=b"one", headers=auth).headers["ETag"]
    current = client.get("/template/tagged.html", headers={"If-None-Match": etag})
    assert (current.status_code, current.data) == (304, b"")
    assert current.headers["X-Template-Folder"] == "user"


def test_put_without_a_token_is_401_with_www_authenticate(client):
    response = client.put("/template/page.html", data=b"x")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["code"] == "unauthorized"


@pytest.mark.parametrize("header", ["Bearer wrong", "Bearer ", "Basic s3cret-token", "s3cret-token",
                                    "Bearer s3cret-token-and-more"])
def test_put_with_a_wrong_token_is_401_and_writes_nothing(client, header):
    assert client.put("/template/page.html", data=b"x", headers={"Authorization": header}).status_code == 401
    assert client.get("/render/page.html").status_code == 404


def test_bearer_scheme_is_case_insensitive(client):
    assert client.put("/template/p.txt", data=b"x", headers={"Authorization": "bearer s3cret-token"}).status_code == 201


def test_writes_are_403_when_no_token_is_configured(build_app):
    client = build_app(build).test_client()
    put = client.put("/template/page.html", data=b"x", headers={"Authorization": "Bearer anything"})
    assert_error(put, 403, "writes_disabled")
    assert client.delete("/template/hello.html").status_code == 403
    assert client.get("/render/hello.json").get_json() == {"message": "Hello World!"}


def test_delete_without_the_token_is_401(client, put):
    put("keep.txt", "x")
    assert client.delete("/template/keep.txt").status_code == 401
    assert client.get("/render/keep.txt").status_code == 200


def test_a_change_is_used_by_the_very_next_render(client, put):
    put("live.txt", "version 1")
    assert client.get("/render/live.txt").get_data(as_text=True) == "version 1"
    put("live.txt", "version 2")
    assert client.get("/render/live.txt").get_data(as_text=True) == "version 2"


def test_a_change_through_one_replica_is_used_by_the_next_render_of_another(build_app, tmp_path, auth,
                                                                           template_backend_env):
    shared = {"TEMPLATE_DIR": str(tmp_path / "shared-templates"), **template_backend_env}
    first = build_app(build, RENDER_TOKEN="s3cret-token", **shared).test_client()
    second = build_app(build, RENDER_TOKEN="s3cret-token", **shared).test_client()
    assert "Howdy" in second.get("/render/hello.html").get_data(as_text=True)
    first.put("/template/hello.html", data=b"replaced on first", headers=auth)
    assert second.get("/render/hello.html").get_data(as_text=True) == "replaced on first"
    first.delete("/template/hello.html", headers=auth)
    assert "Howdy" in second.get("/render/hello.html").get_data(as_text=True)


def test_put_with_a_syntax_error_keeps_the_old_template(client, put, auth):
    put("stable.txt", "old")
    assert client.put("/template/stable.txt", data=b"{% if %}", headers=auth).status_code == 422
    assert client.get("/render/stable.txt").get_data(as_text=True) == "old"


def test_put_of_a_body_that_is_not_utf8_is_400(client, auth):
    response = client.put("/template/bin.txt", data=b"\xff\xfe", headers=auth)
    assert response.status_code == 400
    assert client.get("/render/bin.txt").status_code == 404


def test_put_into_a_nested_folder_then_render(client, put):
    put("mail/welcome.html", "<p>Hi {{ who }}</p>")
    assert client.get("/render/mail/welcome.html?who=Bo").get_data(as_text=True) == "<p>Hi Bo</p>"


def test_template_can_include_another_user_template(client, put):
    put("parts/name.html", "<b>{{ who }}</b>")
    put("page.html", "Hi {% include 'parts/name.html' %}")
    assert client.get("/render/page.html?who=<i>").get_data(as_text=True) == "Hi <b>&lt;i&gt;</b>"


def test_user_template_shadows_a_builtin_while_the_other_builtin_stays(client, put):
    put("hello.html", "mine {{ name }}")
    assert client.get("/render/hello.html?name=x").get_data(as_text=True) == "mine x"
    assert client.get("/render/hello.json?name=x").get_json() == {"message": "Hello x!"}
    assert client.get("/template/hello.html").headers["X-Template-Folder"] == "user"


def test_deleting_a_shadowing_template_brings_the_builtin_back(client, put, auth):
    put("hello.html", "mine")
    assert client.delete("/template/hello.html", headers=auth).get_json() == {"template": "hello.html", "deleted": True}
    assert "Howdy World!" in client.get("/render/hello.html").get_data(as_text=True)


def test_deleting_a_builtin_is_403(client, auth):
    response = client.delete("/template/hello.json", headers=auth)
    assert_error(response, 403, "builtin_template")


def test_deleting_a_missing_template_is_404(client, auth):
    assert client.delete("/template/never.html", headers=auth).status_code == 404


def test_delete_then_render_is_404(client, put, auth):
    put("bye.json", "{}")
    client.delete("/template/bye.json", headers=auth)
    assert client.get("/render/bye.json").get_json() == {"message": "No Template bye.json"}


def test_list_shows_user_templates_and_shadowed_builtins(client, put):
    put("hello.html", "mine")
    put("sub/x.txt", "x")
    assert client.get("/template/").get_json() == [
        {"name": "hello.html", "folder": "user", "shadowed": False},
        {"name": "hello.html", "folder": "builtin", "shadowed": True},
        {"name": "hello.json", "folder": "builtin", "shadowed": False},
        {"name": "sub/x.txt", "folder": "user", "shadowed": False},
    ]


def test_put_and_delete_emit_events_after_the_write(client, put, auth, events):
    put("evt.txt", "x")
    client.delete("/template/evt.txt", headers=auth)
    events = events("render")
    assert [event["message"] for event in events] == [
        {"action": "put", "template": "evt.txt", "etag": content_etag("x")},
        {"action": "delete", "template": "evt.txt"}]


def test_refused_writes_emit_no_event(client, auth, events):
    client.put("/template/bad.txt", data=b"{% if %}", headers=auth)
    client.put("/template/nope.txt", data=b"x")
    client.delete("/template/missing.txt", headers=auth)
    assert events("render") == []


@pytest.fixture
def cached(build_app, template_backend_env):
    return build_app(build, RENDER_TOKEN="s3cret-token", RENDER_CACHE_SECONDS="60",
                     **template_backend_env).test_client()


def test_cache_is_off_by_default(client):
    client.get("/render/hello.html")
    assert "X-Cache" not in client.get("/render/hello.html").headers


def test_cached_render_is_served_from_the_cache(cached):
    assert cached.get("/render/hello.html?name=a").headers["X-Cache"] == "MISS"
    hit = cached.get("/render/hello.html?name=a")
    assert hit.headers["X-Cache"] == "HIT"
    assert "Howdy a!" in hit.get_data(as_text=True)


def test_cache_is_keyed_by_the_data(cached):
    cached.get("/render/hello.html?name=a")
    other = cached.get("/render/hello.html?name=b")
    assert other.headers["X-Cache"] == "MISS"
    assert "Howdy b!" in other.get_data(as_text=True)


def test_a_changed_template_is_not_served_stale_from_the_cache(cached, auth):
    cached.put("/template/c.txt", data=b"one", headers=auth)
    assert cached.get("/render/c.txt").get_data(as_text=True) == "one"
    assert cached.get("/render/c.txt").headers["X-Cache"] == "HIT"
    cached.put("/template/c.txt", data=b"two", headers=auth)
    response = cached.get("/render/c.txt")
    assert (response.headers["X-Cache"], response.get_data(as_text=True)) == ("MISS", "two")


def test_a_changed_include_is_not_served_stale_from_the_cache(cached, auth):
    cached.put("/template/outer.txt", data=b"[{% include 'inner.txt' %}]", headers=auth)
    cached.put("/template/inner.txt", data=b"one", headers=auth)
    assert cached.get("/render/outer.txt").get_data(as_text=True) == "[one]"
    cached.put("/template/inner.txt", data=b"two", headers=auth)
    assert cached.get("/render/outer.txt").get_data(as_text=True) == "[two]"


def test_a_cached_404_ends_when_the_template_appears(cached, auth):
    assert cached.get("/render/soon.json").status_code == 404
    cached.put("/template/soon.json", data=b'{"ok": true}', headers=auth)
    assert cached.get("/render/soon.json").get_json() == {"ok": True}


def test_post_renders_are_not_cached(cached):
    cached.post("/render/hello.json", data={"name": "a"})
    assert "X-Cache" not in cached.post("/render/hello.json", data={"name": "a"}).headers


def test_get_with_a_json_body_is_not_cached(cached):
    first = cached.open("/render/hello.json", method="GET", json={"name": "a"})
    second = cached.open("/render/hello.json", method="GET", json={"name": "b"})
    assert "X-Cache" not in second.headers
    assert (first.get_json(), second.get_json()) == ({"message": "Hello a!"}, {"message": "Hello b!"})
