"""What store and kv answer when their PostgreSQL fails: fast 503/504 JSON naming the database, never a 500."""
import os
import time

import pytest

import hipflask
from hipflask.config import ConfigError
from support import free_port, wait_until

from kv.wsgi import build as build_kv
from store.wsgi import build as build_store

SERVICES = {"kv": (build_kv, "/kv/k"), "store": (build_store, "/store/things")}


@pytest.fixture(params=sorted(SERVICES))
def service(request):
    return request.param


def test_an_unreachable_database_answers_503_naming_it_within_the_connect_timeout(build_app, service):
    builder, path = SERVICES[service]
    app = build_app(builder, DATABASE_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/db",
                    DATABASE_CONNECT_TIMEOUT="0.5")
    client = app.test_client()
    for method in ("get", "post"):
        started = time.monotonic()
        response = getattr(client, method)(path, data=b"1", content_type="text/plain")
        assert time.monotonic() - started < 3
        assert response.status_code == 503
        body = response.get_json()
        assert (body["code"], body["database"]) == ("database_unavailable", "postgresql")
        assert "PostgreSQL" in body["message"] and "nobody" not in body["message"]
    hipflask.state(app).storage.close()


def test_readiness_names_the_unreachable_database(build_app, service):
    builder, _ = SERVICES[service]
    app = build_app(builder, DATABASE_URL=f"postgresql://u:secret@127.0.0.1:{free_port()}/db",
                    DATABASE_CONNECT_TIMEOUT="0.5")
    response = app.test_client().get("/_hipflask/ready")
    assert response.status_code == 503
    failure = " ".join(response.get_json()["failed"].values())
    assert "PostgreSQL" in failure and "secret" not in failure
    hipflask.state(app).storage.close()


def test_a_service_started_before_its_database_serves_once_it_answers(build_app, service):
    from pgserver import PostgresServer

    builder, path = SERVICES[service]
    server = PostgresServer()
    try:
        app = build_app(builder, DATABASE_URL=server.url, DATABASE_CONNECT_TIMEOUT="0.5")
        client = app.test_client()
        assert client.get(path).status_code == 503
        server.start()
        wait_until(lambda: client.get("/_hipflask/ready").status_code == 200, 20, "the service to recover")
        assert client.post(path, data=b"1", content_type="text/plain").status_code == 200
        hipflask.state(app).storage.close()
    finally:
        server.stop()


def test_statement_timeout_answers_504_and_is_logged(build_app, postgres_url, caplog):
    app = build_app(build_kv, DATABASE_URL=postgres_url, DATABASE_STATEMENT_TIMEOUT="0.2")
    storage = hipflask.state(app).storage
    client = app.test_client()
    assert client.put("/kv/k", data=b"1", content_type="text/plain").status_code == 200
    import psycopg
    with psycopg.connect(postgres_url) as locker:  # hold the row's lock so the conditional write waits
        locker.execute("SELECT pg_advisory_lock(hashtextextended('DEFAULT/k', 0))")
        response = client.put("/kv/k", data=b"2", content_type="text/plain", headers={"If-Match": "*"})
        locker.execute("SELECT pg_advisory_unlock_all()")
    assert response.status_code == 504
    assert response.get_json()["code"] == "database_timeout"
    assert "DATABASE_STATEMENT_TIMEOUT" in caplog.text
    storage.close()


def test_a_database_url_of_another_scheme_stops_the_start(build_app):
    with pytest.raises(ConfigError, match="KV_DATABASE_URL"):
        build_app(build_kv, KV_DATABASE_URL="mysql://x@y/z")


def test_the_service_url_wins_over_database_url(build_app, postgres_url):
    app = build_app(build_kv, KV_DATABASE_URL=postgres_url, DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    assert app.test_client().get("/_hipflask/ready").status_code == 200
    hipflask.state(app).storage.close()


def test_the_url_may_come_from_a_file(build_app, postgres_url, tmp_path):
    (tmp_path / "url").write_text(postgres_url + "\n")
    app = build_app(build_kv, KV_DATABASE_URL_FILE=str(tmp_path / "url"))
    assert app.test_client().put("/kv/k", data=b"1", content_type="text/plain").status_code == 200
    hipflask.state(app).storage.close()


def test_a_worker_forked_from_a_preloaded_app_uses_a_pool_of_its_own(build_app, postgres_url):
    """PRELOAD_APP: the master built the app (and opened a pool); a forked worker reads and writes
    through its own sessions, never the master's."""
    app = build_app(build_kv, DATABASE_URL=postgres_url)
    client = app.test_client()
    assert client.put("/kv/forked", data=b"before", content_type="text/plain").status_code == 200
    storage = hipflask.state(app).storage
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            answer = client.get("/kv/forked").get_data() + b" " + str(
                storage.database.pool is not storage.database._parents_pool).encode()
        except BaseException as exc:  # the parent's assertion shows what went wrong here
            answer = repr(exc).encode()
        os.write(write, answer)
        os._exit(0)
    os.close(write)
    answer = os.read(read, 4096)
    os.close(read)
    os.waitpid(child, 0)
    assert answer == b"before True"
    assert client.get("/kv/forked").get_data() == b"before"  # the parent's sessions still work
    storage.close()
