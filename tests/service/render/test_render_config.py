"""The render service's own settings, read and checked once at start."""
import subprocess
import sys
from pathlib import Path

import pytest

import hipflask
from hipflask.config import ConfigError

from render.wsgi import build


@pytest.mark.parametrize("variable, value", [
    ("RENDER_MAX_OUTPUT", "lots"), ("RENDER_MAX_RANGE", "0"), ("RENDER_TIMEOUT", "soon"),
    ("RENDER_CACHE_SECONDS", "-1"), ("RENDER_TEMPLATE_CACHE_SIZE", "x"), ("TEMPLATE_BACKEND", "ftp"),
])
def test_a_wrong_value_stops_the_service_naming_the_variable(build_app, variable, value):
    with pytest.raises(ConfigError, match=variable):
        build_app(build, **{variable: value})


def test_template_dir_is_made_and_used(build_app, tmp_path):
    folder = tmp_path / "elsewhere" / "templates"
    app = build_app(build, TEMPLATE_DIR=str(folder))
    assert folder.is_dir()
    (folder / "here.txt").write_text("from TEMPLATE_DIR")
    assert app.test_client().get("/render/here.txt").get_data(as_text=True) == "from TEMPLATE_DIR"


def test_template_dir_defaults_to_the_data_dir(app):
    assert hipflask.state(app).storage.user_dir == hipflask.settings(app).data_dir.resolve() / "templates"


def test_template_dir_that_cannot_be_made_stops_the_service(build_app, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="TEMPLATE_DIR"):
        build_app(build, TEMPLATE_DIR=str(blocker / "templates"))


def test_max_output_is_read_in_nginx_notation(build_app):
    app = build_app(build, RENDER_MAX_OUTPUT="2k")
    assert hipflask.state(app).storage.limits.max_output == 2048


ROOT = Path(__file__).resolve().parents[3]


def test_the_folder_backend_does_not_load_the_object_store_client(service_env):
    probe = ("import sys; from render.wsgi import build; build(" + repr(service_env) + "); "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore'}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            env={"PYTHONPATH": f"{ROOT}/services/render:{ROOT}/shared"})
    assert result.stdout.strip() == "[]"


def test_the_token_is_read_from_render_token_file_a_docker_secret(build_app, tmp_path):
    secret = tmp_path / "render_token"
    secret.write_text("from-a-secret\n")
    client = build_app(build, RENDER_TOKEN_FILE=str(secret)).test_client()
    refused = client.delete("/template/none.txt", headers={"Authorization": "Bearer other"})
    assert refused.status_code == 401  # a token is set (403 writes_disabled without one)
    assert client.delete("/template/none.txt", headers={"Authorization": "Bearer from-a-secret"}).status_code == 404
