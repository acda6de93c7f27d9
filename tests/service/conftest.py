"""Fixtures of the service tier: each family's conftest gives `app`; these build on it."""
import pytest

import hipflask


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def data_dir(app):
    """The service's storage volume."""
    return hipflask.settings(app).data_dir


BACKENDS = ("sqlite", "postgres")


def pytest_generate_tests(metafunc):
    """Every test that uses `backend` (directly or through `app`) runs on each storage backend;
    a test marked `sqlite_only` pins a SQLite specific (its files) and runs on SQLite alone."""
    if "backend" in metafunc.fixturenames:
        only = metafunc.definition.get_closest_marker("sqlite_only")
        metafunc.parametrize("backend", ("sqlite",) if only else BACKENDS, indirect=True)


@pytest.fixture
def backend(request):
    """The storage backend under test: `sqlite` (files in DATA_DIR) or `postgres` (the session's server)."""
    return request.param


@pytest.fixture
def backend_env(backend, request):
    """The environment that selects `backend` for a service: empty for SQLite, a database URL for PostgreSQL."""
    if backend == "postgres":
        return {"DATABASE_URL": request.getfixturevalue("postgres_url")}
    return {}
