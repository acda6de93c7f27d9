import uuid

import pytest

from render.wsgi import build

TOKEN = "s3cret-token"
BACKENDS = ("local", "s3")
WRITES_TEMPLATES = {"put", "auth", "templates"}


def pytest_generate_tests(metafunc):
    """Every test that writes templates (through `put`, `auth` or `templates`) runs on each
    template backend; the others, and those that take `local_templates`, on the folder alone."""
    if "template_backend" in metafunc.fixturenames:
        both = WRITES_TEMPLATES & set(metafunc.fixturenames) and "local_templates" not in metafunc.fixturenames
        metafunc.parametrize("template_backend", BACKENDS if both else ("local",), indirect=True)


@pytest.fixture
def template_backend(request):
    """The template backend under test: `local` (a folder) or `s3` (the session's SeaweedFS)."""
    return request.param


def s3_template_env(endpoint: str) -> dict:
    """The environment of a render service on S3, under a prefix of its own."""
    return {"TEMPLATE_BACKEND": "s3", "S3_ENDPOINT_URL": endpoint, "S3_BUCKET": "hipflask-render-test",
            "S3_PREFIX": f"t-{uuid.uuid4().hex}", "S3_ACCESS_KEY_ID": "test", "S3_SECRET_ACCESS_KEY": "test"}


@pytest.fixture
def template_backend_env(template_backend, request):
    """The environment that selects `template_backend`: empty for the folder. Apps built with the
    same value share their templates, as replicas do."""
    if template_backend == "s3":
        return s3_template_env(request.getfixturevalue("s3_endpoint"))
    return {}


@pytest.fixture
def app(build_app, template_backend_env):
    return build_app(build, RENDER_TOKEN=TOKEN, RENDER_TIMEOUT="0.5", RENDER_MAX_OUTPUT="64k",
                     RENDER_MAX_RANGE="1000", **template_backend_env)


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


LIMITS = dict(max_output=64 * 1024, max_range=1000, timeout=0.5)


def s3_templates(endpoint: str, redis_url: str, prefix: str):
    """A Templates storage on S3 (its own Backplane on the test Redis), as one replica has it."""
    from hipflask.redis_backplane import Backplane
    from hipflask.s3 import S3Settings

    from render.s3 import S3Templates
    from render.sandbox import Limits
    from render.templates import Templates
    store = S3Templates(S3Settings(endpoint, "hipflask-render-test", "us-east-1", "test", "test", prefix=prefix),
                        Backplane(redis_url, 2.0, "render"))
    store.objects.ensure()
    return Templates(store, limits=Limits(**LIMITS))


@pytest.fixture
def templates(template_backend, tmp_path, request):
    """A Templates storage with small limits, without HTTP: over a private user folder, or on S3
    under a private prefix."""
    if template_backend == "s3":
        return s3_templates(request.getfixturevalue("s3_endpoint"), request.getfixturevalue("redis_url"),
                            f"t-{uuid.uuid4().hex}")
    from render.sandbox import Limits
    from render.templates import Templates
    (tmp_path / "templates").mkdir()
    return Templates(tmp_path / "templates", limits=Limits(**LIMITS))


@pytest.fixture
def s3_env(s3_endpoint):
    """s3_env(**overrides): the environment of a render service with its templates on S3 under a
    prefix of its own, with RENDER_TOKEN; services built with one value share their templates."""
    return lambda **overrides: {**s3_template_env(s3_endpoint), "RENDER_TOKEN": TOKEN, **overrides}


@pytest.fixture
def replicas(s3_endpoint, redis_url, redis_client):
    """replicas(n): n Templates storages on one bucket, prefix and Redis, as n replicas have them."""
    prefix = f"t-{uuid.uuid4().hex}"
    return lambda count: [s3_templates(s3_endpoint, redis_url, prefix) for _ in range(count)]


@pytest.fixture
def local_templates(tmp_path, template_backend):
    """A Templates storage over a private user folder, for what only a folder has (its files)."""
    from render.sandbox import Limits
    from render.templates import Templates
    (tmp_path / "templates").mkdir()
    return Templates(tmp_path / "templates", limits=Limits(**LIMITS))
