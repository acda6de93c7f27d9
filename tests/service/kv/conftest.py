import pytest

import hipflask

from kv.wsgi import build


@pytest.fixture
def app(build_app, backend_env):
    """The kv app on the backend under test (see tests/service/conftest.py)."""
    built = build_app(build, **backend_env)
    yield built
    hipflask.state(built).storage.close()
