import pytest

import hipflask
from hipflask.postgres import PostgresSettings

from store.db import open_store
from store.postgres import PostgresStore
from store.wsgi import build


@pytest.fixture
def app(build_app, backend_env):
    """The store app on the backend under test (see tests/service/conftest.py)."""
    built = build_app(build, **backend_env)
    yield built
    hipflask.state(built).storage.close()


@pytest.fixture
def store(backend, tmp_path, request):
    """The storage under test without HTTP: a Store on a private data directory, or a PostgresStore."""
    if backend == "postgres":
        opened = PostgresStore(PostgresSettings(request.getfixturevalue("postgres_url"), 4, 2.0, 5.0)).open()
    else:
        opened = open_store(tmp_path / "store-data")
    yield opened
    opened.close()

