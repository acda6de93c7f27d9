import os

import pytest

import hipflask

from fs.wsgi import build


@pytest.fixture
def app(build_app):
    return build_app(build, FS_MAX_UPLOAD_SIZE="8m")


@pytest.fixture
def direct_app(build_app):
    """The service sending file bytes itself (no gateway in front)."""
    return build_app(build, FS_MAX_UPLOAD_SIZE="8m", FS_ACCEL_REDIRECT="false")


@pytest.fixture
def direct(direct_app):
    return direct_app.test_client()


@pytest.fixture
def volume(app):
    return hipflask.state(app).storage


@pytest.fixture
def leftovers(data_dir):
    """leftovers(): the names in the volume's temporary folder (in-flight or abandoned uploads)."""
    return lambda: sorted(os.listdir(os.path.join(data_dir, ".tmp")))
