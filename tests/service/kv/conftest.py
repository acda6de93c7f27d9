import pytest

from kv.wsgi import build


@pytest.fixture
def app(build_app):
    return build_app(build)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def data_dir(app):
    return app.extensions["hipflask"].data_dir
