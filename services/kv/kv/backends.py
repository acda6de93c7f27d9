"""Which kv backend runs: `init_app` reads the kv settings, opens the storage and puts it on the app."""
from __future__ import annotations

import sqlite3

from flask import Flask

from hipflask.config import ConfigError, Env
from hipflask.health import add_ready_check

from kv.sqlite import KVStore


def init_app(app: Flask, env: Env) -> None:
    """Read KV_MAX_VALUE_SIZE and KV_SYNC, open the store and register its readiness check."""
    settings = app.extensions["hipflask"]
    max_value_size = env.size("KV_MAX_VALUE_SIZE", str(settings.max_body_size))
    if max_value_size > settings.max_body_size:
        raise ConfigError(f"KV_MAX_VALUE_SIZE: must not exceed MAX_BODY_SIZE ({settings.max_body_size} bytes), "
                          f"got {max_value_size}")
    synchronous = env.choice("KV_SYNC", "full", ("full", "normal"))
    store = KVStore(settings.data_dir, max_value_size=max_value_size, vfs=settings.sqlite_vfs,
                    synchronous=synchronous.upper(), max_json_depth=settings.max_json_depth)
    store.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        store.ready()
    except sqlite3.OperationalError as exc:
        raise ConfigError(f"SQLITE_VFS: SQLite cannot open a database in {store.data_dir} with it ({exc})") from None
    store.databases.close_all()  # connections belong to the threads that serve requests, not to start-up
    app.extensions["kv"] = store
    add_ready_check(app, "kv_storage", store.ready)
