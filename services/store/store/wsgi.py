"""Entry point: `gunicorn 'store.wsgi:build()'`."""
from pathlib import Path

from hipflask import create_app

from store import backends
from store.routes import blueprint


def build(environ=None):
    return create_app("store", blueprint, init=backends.init_app,
                      handlers_dir=Path(__file__).resolve().parent.parent / "handlers", environ=environ)
