"""The copy of a service's SQLite files into PostgreSQL (`make migrate-to-postgres`): the part every
service shares. Each service's `migrate` module says how to read a namespace's file and how to
write it; this finds the files, runs the copy and checks the counts.

A copy is idempotent and resumable: what PostgreSQL already holds is left alone (nothing is
overwritten), each unit (a store, a namespace's values) is copied in one transaction, so an
interrupted run is simply run again. The count check compares every namespace at the end.
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from hipflask.config import ConfigError, Env
from hipflask.database_settings import PostgresSettings, settings_from_env


def namespace_files(data_dir: Path) -> Iterator[tuple[str, Path]]:
    """(namespace, file) of every namespace database under `data_dir`, by name."""
    for path in sorted(Path(data_dir).glob("*.sqlite3")):
        if not path.name.startswith("."):
            yield path.stem, path


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def run(service: str, copy: Callable[[PostgresSettings, str, sqlite3.Connection], tuple[int, int, int]],
        argv: list[str] | None = None, environ=None) -> int:
    """The command: copy every namespace of DATA_DIR (or `--data-dir`) into the service's database.

    `copy(settings, namespace, connection)` copies one namespace and answers (copied, in SQLite,
    in PostgreSQL). The exit status is 0 when every namespace's counts agree.
    """
    env = Env(environ)
    parser = argparse.ArgumentParser(prog=f"python -m {service}.migrate",
                                     description=f"copy {service}'s SQLite namespaces into PostgreSQL")
    parser.add_argument("--data-dir", default=env.str("DATA_DIR", f"var/data/{service}"),
                        help="the service's SQLite volume (DATA_DIR)")
    args = parser.parse_args(argv)
    try:
        settings = settings_from_env(env, service)
    except ConfigError as exc:
        print(f"{service}: {exc}", file=sys.stderr)
        return 2
    if settings is None:
        print(f"{service}: set {service.upper()}_DATABASE_URL or DATABASE_URL to the PostgreSQL database",
              file=sys.stderr)
        return 2
    mismatched = total = 0
    for namespace, path in namespace_files(Path(args.data_dir)):
        connection = read_only(path)
        try:
            copied, in_sqlite, in_postgres = copy(settings, namespace, connection)
        finally:
            connection.close()
        total += in_sqlite
        state = "ok" if in_sqlite == in_postgres else "COUNT MISMATCH"
        mismatched += state != "ok"
        print(f"{service} {namespace}: {copied} copied, {in_sqlite} in SQLite, {in_postgres} in PostgreSQL: {state}")
    print(f"{service}: {total} rows checked, {mismatched} namespaces with a count mismatch")
    return 1 if mismatched else 0
