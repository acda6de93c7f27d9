"""hipflask.gunicorn_conf: the worker class and its connection limit come from the environment."""
import importlib
import subprocess
import sys

import pytest

from hipflask.config import ConfigError


def load(monkeypatch, **environ):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    import hipflask.gunicorn_conf as conf
    return importlib.reload(conf)


def test_threaded_workers_by_default(monkeypatch):
    monkeypatch.delenv("WORKER_CLASS", raising=False)
    assert load(monkeypatch).worker_class == "gthread"


def test_worker_class_gevent_for_many_idle_streams(monkeypatch):
    conf = load(monkeypatch, WORKER_CLASS="gevent", WORKER_CONNECTIONS="3000")
    assert (conf.worker_class, conf.worker_connections) == ("gevent", 3000)


def test_an_unknown_worker_class_stops_the_start_naming_the_variable(monkeypatch):
    with pytest.raises(ConfigError, match="WORKER_CLASS"):
        load(monkeypatch, WORKER_CLASS="eventlet")


def test_the_master_loads_neither_flask_nor_prometheus_client():
    """gunicorn's master reads this file and forks: what it imports, every service holds once more."""
    probe = ("import sys, hipflask.gunicorn_conf; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'flask', 'werkzeug', 'prometheus_client', "
             "'redis', 'jwt', 'psycopg'}))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_threaded_workers_are_forked_from_a_preloaded_app(monkeypatch, tmp_path):
    monkeypatch.delenv("WORKER_CLASS", raising=False)
    monkeypatch.delenv("PRELOAD_APP", raising=False)
    conf = load(monkeypatch, PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    assert conf.preload_app is True
    assert (tmp_path / "metrics").is_dir()  # made before the master builds the app, whose metrics write there


def test_gevent_workers_build_their_own_app(monkeypatch, tmp_path):
    monkeypatch.delenv("PRELOAD_APP", raising=False)
    conf = load(monkeypatch, WORKER_CLASS="gevent", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    assert conf.preload_app is False


def test_preload_app_can_be_turned_off(monkeypatch, tmp_path):
    conf = load(monkeypatch, PRELOAD_APP="false", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    assert conf.preload_app is False
