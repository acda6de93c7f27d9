"""Entry point: `gunicorn 'diagnostic.wsgi:build()'`."""
from pathlib import Path

from hipflask import create_app

from diagnostic import checks, status_page
from diagnostic.routes import blueprint


def init(app, env):
    checks.init_app(app, env)
    app.register_blueprint(status_page.blueprint)


def build(environ=None):
    return create_app("diagnostic", blueprint, init=init,
                      handlers_dir=Path(__file__).resolve().parent.parent / "handlers", environ=environ)
