"""Entry point: `gunicorn 'events.wsgi:build()'` (with WORKER_CLASS=gevent: many idle streams, no thread each)."""
from pathlib import Path

from hipflask import create_app

from events import fanout
from events.routes import blueprint


def build(environ=None):
    return create_app("events", blueprint, init=fanout.init_app,
                      handlers_dir=Path(__file__).resolve().parent.parent / "handlers", environ=environ)
