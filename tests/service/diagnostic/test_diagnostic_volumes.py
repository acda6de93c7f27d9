"""/diagnostic shows each service's volume and fails, naming the service and the volume, when its
free space is below DISK_MIN_FREE. The checked service is the real kv app over real HTTP."""
import threading

import pytest
from werkzeug.serving import make_server

from diagnostic.wsgi import build as build_diagnostic
from kv.wsgi import build as build_kv


@pytest.fixture
def kv_url(build_app, tmp_path):
    server = make_server("127.0.0.1", 0, build_app(build_kv, DATA_DIR=str(tmp_path / "kv")), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def diagnostic(build_app, kv_url, **environ):
    app = build_app(build_diagnostic, DIAGNOSTIC_TARGETS=f"kv={kv_url}", DIAGNOSTIC_TIMEOUT="2",
                    DIAGNOSTIC_CACHE_SECONDS="0", **environ)
    return app.test_client().get("/diagnostic")


def test_diagnostic_shows_the_volume_and_its_free_bytes(build_app, kv_url, tmp_path):
    response = diagnostic(build_app, kv_url)
    assert response.status_code == 200
    volume = response.get_json()["checks"]["kv"]["volume"]
    assert volume["path"] == str(tmp_path / "kv") and volume["free_bytes"] > 0


def test_diagnostic_fails_naming_the_service_and_volume_below_disk_min_free(build_app, kv_url, tmp_path):
    response = diagnostic(build_app, kv_url, DISK_MIN_FREE="1000000g")
    assert response.status_code == 500
    body = response.get_json()
    assert body["failed"] == ["kv"]
    error = body["checks"]["kv"]["detail"]["error"]
    assert str(tmp_path / "kv") in error and "DISK_MIN_FREE" in error
