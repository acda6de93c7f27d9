"""Fixtures of the service tier: each family's conftest gives `app`; these build on it."""
import pytest


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def data_dir(app):
    """The service's storage volume."""
    return app.extensions["hipflask"].data_dir
