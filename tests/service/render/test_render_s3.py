"""What only TEMPLATE_BACKEND=s3 has (a real SeaweedFS, a real Redis): replicas that share a bucket
and the generation in Redis, Redis going away, and an object store that does not answer."""
import pytest

import hipflask
from hipflask.config import ConfigError
from hipflask.redis_backplane import Backplane
from support import assert_error, free_port, wait_until

from render.engine import TemplateFailed, TemplateMissing
from render.wsgi import build

AUTH = {"Authorization": "Bearer s3cret-token"}


def without_redis(templates):
    """`templates` from now on reaching no Redis (a closed port: every read of it fails)."""
    templates.store.backplane = Backplane(f"redis://127.0.0.1:{free_port()}/0", 0.5, "render")
    return templates


def text(templates, name):
    return templates.render(name, {}).body.decode()


def test_a_write_replace_and_delete_by_one_replica_are_used_by_the_next_render_of_the_other(replicas):
    one, two = replicas(2)
    assert "Howdy" in text(one, "hello.html")
    two.put("hello.html", "from two")
    assert text(one, "hello.html") == "from two"
    two.put("hello.html", "again from two")
    assert text(one, "hello.html") == "again from two"
    two.delete("hello.html")
    assert "Howdy" in text(one, "hello.html")


def test_a_changed_include_written_by_another_replica_is_used_by_the_next_render(replicas):
    one, two = replicas(2)
    one.put("inner.txt", "a")
    one.put("outer.txt", "[{% include 'inner.txt' %}]")
    assert text(one, "outer.txt") == "[a]"
    two.put("inner.txt", "b")
    assert text(one, "outer.txt") == "[b]"


def test_a_syntax_error_in_a_stored_object_names_the_template_and_its_line(replicas):
    (one,) = replicas(1)
    one.store.objects.call("put_object", Key=one.store.prefix + "broken.html", Body=b"one\ntwo\n{% if %}\n")
    with pytest.raises(TemplateFailed) as caught:
        one.render("broken.html", {})
    assert (caught.value.code, caught.value.template, caught.value.line) == ("template_syntax", "broken.html", 3)


def test_without_redis_a_replica_still_uses_another_replicas_write_on_its_next_render(replicas):
    reader, writer = replicas(2)
    writer.put("live.txt", "v1")
    assert text(reader, "live.txt") == "v1"
    without_redis(reader)
    writer.put("live.txt", "v2")
    assert text(reader, "live.txt") == "v2"
    writer.delete("live.txt")
    with pytest.raises(TemplateMissing):
        reader.render("live.txt", {})


def test_a_write_made_while_redis_was_down_is_used_once_redis_is_back(replicas):
    reader, writer = replicas(2)
    writer.put("a.txt", "v1")
    assert text(reader, "a.txt") == "v1"
    live = reader.store.backplane
    without_redis(reader)
    without_redis(writer)
    assert "Howdy" in text(reader, "hello.html")  # a render during the outage
    writer.put("a.txt", "v2")  # its generation cannot move
    reader.store.backplane = live
    assert text(reader, "a.txt") == "v2"


def test_a_write_whose_generation_was_lost_is_used_within_the_recheck_bound(replicas):
    reader, writer = replicas(2)
    reader.store.recheck_seconds = 0.3
    writer.put("b.txt", "v1")
    assert text(reader, "b.txt") == "v1"
    without_redis(writer).put("b.txt", "v2")
    wait_until(lambda: text(reader, "b.txt") == "v2", 5, "the reader to use the unannounced write")


def test_a_redis_that_lost_its_data_starts_a_new_generation(replicas, redis_client):
    reader, writer = replicas(2)
    writer.put("c.txt", "v1")
    assert text(reader, "c.txt") == "v1"
    writer.put("c.txt", "v2")
    redis_client.flushdb()
    assert text(reader, "c.txt") == "v2"
    assert redis_client.exists(reader.store.generation_key)


def test_the_generation_is_one_redis_key_per_bucket_and_prefix(replicas, redis_client):
    (one,) = replicas(1)
    one.put("d.txt", "x")
    assert redis_client.keys("hipflask:render:generation:*") == [
        f"hipflask:render:generation:hipflask-render-test/{one.store.prefix}".encode()]


def test_a_cached_render_is_not_served_after_a_write_on_another_replica(build_app, s3_env):
    env = s3_env(RENDER_CACHE_SECONDS="60")
    first, second = build_app(build, **env).test_client(), build_app(build, **env).test_client()
    first.put("/template/page.txt", data=b"one", headers=AUTH)
    assert first.get("/render/page.txt").headers["X-Cache"] == "MISS"
    shared = second.get("/render/page.txt")
    assert (shared.headers["X-Cache"], shared.get_data(as_text=True)) == ("HIT", "one")
    first.put("/template/page.txt", data=b"two", headers=AUTH)
    assert second.get("/render/page.txt").get_data(as_text=True) == "two"


def test_the_service_makes_no_template_folder(build_app, s3_env):
    app = build_app(build, **s3_env())
    assert app.test_client().put("/template/kept.txt", data=b"x", headers=AUTH).status_code == 201
    assert not (hipflask.settings(app).data_dir / "templates").exists()


def test_a_wrong_recheck_interval_stops_the_service_naming_the_variable(build_app, s3_env):
    with pytest.raises(ConfigError, match="TEMPLATE_RECHECK_SECONDS"):
        build_app(build, **s3_env(TEMPLATE_RECHECK_SECONDS="soon"))


@pytest.fixture
def unreachable(build_app, s3_env):
    """A render service whose object store does not answer (a closed port)."""
    env = s3_env(S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}", S3_TIMEOUT="0.5")
    return build_app(build, **env).test_client()


def test_an_unreachable_object_store_is_a_503_for_reads_and_writes(unreachable):
    assert_error(unreachable.get("/template/x.txt"), 503, "storage_unavailable")
    assert_error(unreachable.put("/template/x.txt", data=b"x", headers=AUTH), 503, "storage_unavailable")
    assert_error(unreachable.get("/render/x.txt"), 503, "storage_unavailable")


def test_an_unreachable_object_store_fails_readiness(unreachable):
    response = unreachable.get("/_hipflask/ready")
    assert response.status_code == 503
    assert "templates" in response.get_json()["failed"]
