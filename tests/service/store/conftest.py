import json

import pytest

from store.db import open_store
from store.wsgi import build


@pytest.fixture
def app(build_app):
    return build_app(build)


@pytest.fixture
def store(tmp_path):
    """A Store on a private data directory, without HTTP."""
    opened = open_store(tmp_path / "store-data")
    yield opened
    opened.databases.close_all()


@pytest.fixture
def events(redis_client):
    """events(): the store events published so far, oldest first."""
    def read():
        entries = redis_client.xrange("hipflask:events")
        decoded = [json.loads(fields[b"event"]) for _, fields in entries]
        return [event["message"] for event in decoded if event["source"] == "store"]
    return read
