import pytest

from render.wsgi import build

TOKEN = "s3cret-token"


@pytest.fixture
def app(build_app):
    return build_app(build, RENDER_TOKEN=TOKEN, RENDER_TIMEOUT="0.5", RENDER_MAX_OUTPUT="64k",
                     RENDER_MAX_RANGE="1000")


@pytest.fixture
def auth():
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def put(client, auth):
    """put(name, text): store a user template through the API and check that it was accepted."""
    def store(name, text):
        response = client.put(f"/template/{name}", data=text.encode(), headers=auth)
        assert response.status_code in (200, 201), response.get_data(as_text=True)
        return response
    return store


@pytest.fixture
def templates(tmp_path):
    """A Templates storage over a private user folder, with small limits, without HTTP."""
    from render.sandbox import Limits
    from render.templates import Templates
    (tmp_path / "templates").mkdir()
    return Templates(tmp_path / "templates", limits=Limits(max_output=64 * 1024, max_range=1000, timeout=0.5))
