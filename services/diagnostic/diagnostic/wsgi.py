"""Entry point: `gunicorn 'diagnostic.wsgi:build()'`."""
from pathlib import Path

from hipflask import create_app

from diagnostic import checks
from diagnostic.routes import blueprint


def build(environ=None):
    return create_app("diagnostic", blueprint, init=checks.init_app,
                      handlers_dir=Path(__file__).resolve().parent.parent / "handlers", environ=environ)
