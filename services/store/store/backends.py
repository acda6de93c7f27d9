"""Which store backend runs: `init_app` reads the store settings, opens the storage and puts it on the app.

`STORE_DATABASE_URL` (or `DATABASE_URL`, see `hipflask.database_settings.database_url`) selects PostgreSQL;
without one, items stay in SQLite files on the service's volume.
"""
from __future__ import annotations

from flask import Flask

from hipflask.config import Env
from hipflask.database_settings import settings_from_env
from hipflask.health import add_ready_check
from hipflask.metrics import set_namespace_count, sqlite_namespace_count
from hipflask.state import state

from store.storage import StoreStorage


def init_app(app: Flask, env: Env) -> None:
    """Open the store's storage (PostgreSQL when a database URL is set, else SQLite files on the
    service's data directory, with STORE_SYNC), put it on the app and register its readiness check."""
    postgres = settings_from_env(env, "store")
    store: StoreStorage
    if postgres is not None:
        from store.postgres import PostgresStore
        store = PostgresStore(postgres).open()
        state(app).storage = store
        add_ready_check(app, "database", store.ready)
        return
    from store.db import open_store

    settings = state(app).settings
    synchronous = env.choice("STORE_SYNC", "full", ("full", "normal")).upper()
    store = open_store(settings.data_dir, settings.sqlite_vfs, synchronous)
    state(app).storage = store
    add_ready_check(app, "data_dir", store.ready)
    set_namespace_count(app, sqlite_namespace_count(settings.data_dir))
