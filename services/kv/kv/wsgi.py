"""Entry point: `gunicorn 'kv.wsgi:build()'`."""
from pathlib import Path

from hipflask import create_app

from kv import backends
from kv.routes import blueprint


def build(environ=None):
    return create_app("kv", blueprint, init=backends.init_app,
                      handlers_dir=Path(__file__).resolve().parent.parent / "handlers", environ=environ)
