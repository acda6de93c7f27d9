import pytest

from diagnostic.wsgi import build


@pytest.fixture
def app(build_app):
    return build_app(build, DIAGNOSTIC_TARGETS="", DIAGNOSTIC_TIMEOUT="0.5", DIAGNOSTIC_CACHE_SECONDS="0")


@pytest.fixture
def client(app):
    return app.test_client()
