"""Entry point: `gunicorn 'fs.wsgi:build()'`."""
from pathlib import Path

from hipflask import create_app

from fs import storage
from fs.routes import blueprint


def build(environ=None):
    return create_app("fs", blueprint, init=storage.init_app,
                      handlers_dir=Path(__file__).resolve().parent.parent / "handlers", environ=environ)
