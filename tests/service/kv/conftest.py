import pytest

from kv.wsgi import build


@pytest.fixture
def app(build_app):
    return build_app(build)
