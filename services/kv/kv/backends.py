"""Which kv backend runs: `init_app` reads the kv settings, opens the storage and puts it on the app.

`KV_DATABASE_URL` (or `DATABASE_URL`, see `hipflask.database_settings.database_url`) selects PostgreSQL;
without one, values stay in SQLite files on the service's volume.
"""
from __future__ import annotations

import sqlite3

from flask import Flask

from hipflask.config import ConfigError, Env
from hipflask.database_settings import settings_from_env
from hipflask.health import add_ready_check
from hipflask.metrics import set_namespace_count, sqlite_namespace_count
from hipflask.state import state

from kv.storage import KVStorage


def _sqlite(app: Flask, env: Env, max_value_size: int) -> KVStorage:
    from kv.sqlite import KVStore

    settings = state(app).settings
    synchronous = env.choice("KV_SYNC", "full", ("full", "normal"))
    store = KVStore(settings.data_dir, max_value_size=max_value_size, vfs=settings.sqlite_vfs,
                    synchronous=synchronous.upper(), max_json_depth=settings.max_json_depth)
    store.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        store.ready()
    except sqlite3.OperationalError as exc:
        raise ConfigError(f"SQLITE_VFS: SQLite cannot open a database in {store.data_dir} with it ({exc})") from None
    store.databases.close_all()  # connections belong to the threads that serve requests, not to start-up
    return store


def init_app(app: Flask, env: Env) -> None:
    """Read KV_MAX_VALUE_SIZE and the backend's settings, open the storage and register its readiness check."""
    settings = state(app).settings
    max_value_size = env.size("KV_MAX_VALUE_SIZE", str(settings.max_body_size))
    if max_value_size > settings.max_body_size:
        raise ConfigError(f"KV_MAX_VALUE_SIZE: must not exceed MAX_BODY_SIZE ({settings.max_body_size} bytes), "
                          f"got {max_value_size}")
    postgres = settings_from_env(env, "kv")
    if postgres is None:
        store = _sqlite(app, env, max_value_size)
        set_namespace_count(app, sqlite_namespace_count(settings.data_dir))
    else:
        from kv.postgres import PostgresKV
        store = PostgresKV(postgres, max_value_size=max_value_size,
                           max_json_depth=settings.max_json_depth).open()
    state(app).storage = store
    add_ready_check(app, "kv_storage", store.ready)
