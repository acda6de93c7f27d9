"""Fixtures of the library's unit tier: tiny apps built with the real factory.

Apps point at a closed port for Redis unless a test passes the real server's URL
(`REDIS_URL=redis_url`), so only the tests about the cache, the events, the backplane and
readiness depend on Redis.
"""
from __future__ import annotations

import logging

import pytest

import hipflask
from support import ClosingClient

CLOSED_REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def restore_root_logger():
    """create_app configures the root logger; undo it so no test inherits another's handler or level."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def closed_redis_url():
    """A Redis URL nothing listens on: every call fails at once with a refused connection."""
    return CLOSED_REDIS_URL


@pytest.fixture
def make_app(tmp_path):
    """make_app(blueprint=None, handlers_dir=None, **environ): a `unit` app from `hipflask.create_app`."""
    def make(blueprint=None, handlers_dir=None, **environ):
        base = {
            "REDIS_URL": CLOSED_REDIS_URL,
            "REDIS_TIMEOUT": "5",  # a loaded machine must not turn a slow Redis into a skipped cache write
            "X_HOSTNAME": "unit-host",
            "APP_VERSION": "unit-version",
            "LOG_LEVEL": "INFO",
            "DATA_DIR": str(tmp_path / "data"),
        }
        app = hipflask.create_app("unit", blueprint, handlers_dir=handlers_dir,
                                  environ={**base, **{k: str(v) for k, v in environ.items()}})
        app.testing = True
        app.test_client_class = ClosingClient
        return app
    return make
