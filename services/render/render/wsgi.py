"""Entry point: `gunicorn 'render.wsgi:build()'`."""
from pathlib import Path

from hipflask import create_app

from render import templates
from render.routes import blueprint


def build(environ=None):
    return create_app("render", blueprint, init=templates.init_app,
                      handlers_dir=Path(__file__).resolve().parent.parent / "handlers", environ=environ)
