"""Which store backend runs: `init_app` reads the store settings, opens the storage and puts it on the app.

`STORE_DATABASE_URL` (or `DATABASE_URL`, see `hipflask.postgres.database_url`) selects PostgreSQL;
without one, items stay in SQLite files on the service's volume.
"""
from __future__ import annotations

from flask import Flask

from hipflask.config import Env
from hipflask.health import add_ready_check


def init_app(app: Flask, env: Env) -> None:
    """Read STORE_SYNC, open the Store on the service's data directory and put it on the app."""
    from store.db import open_store

    settings = app.extensions["hipflask"]
    synchronous = env.choice("STORE_SYNC", "full", ("full", "normal")).upper()
    store = open_store(settings.data_dir, settings.sqlite_vfs, synchronous)
    app.extensions["store"] = store
    add_ready_check(app, "data_dir", store.ready)
