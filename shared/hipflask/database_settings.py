"""Which PostgreSQL database a service uses, if any, read from the environment without loading psycopg
(12 MB per process): a service keeping its data in SQLite never imports it. The connections are
`hipflask.postgres`'s.
"""
from __future__ import annotations

from dataclasses import dataclass

from hipflask.config import ConfigError, Env


@dataclass(frozen=True)
class PostgresSettings:
    url: str
    pool_size: int
    connect_timeout: float
    statement_timeout: float


def database_url(env: Env, service: str) -> tuple[str, str] | None:
    """(the variable it came from, the URL) of the service's database; None when none is set."""
    for name in (f"{service.upper()}_DATABASE_URL", "DATABASE_URL"):
        url = env.secret(name)
        if url is not None:
            if not url.startswith(("postgresql://", "postgres://")):
                raise ConfigError(f"{name}: expected a postgresql:// URL (unset keeps SQLite), got another scheme")
            from psycopg import ProgrammingError, conninfo  # a database is configured: psycopg is needed anyway

            try:
                conninfo.conninfo_to_dict(url)
            except ProgrammingError:
                raise ConfigError(f"{name}: not a valid PostgreSQL URL") from None
            return name, url
    return None


def settings_from_env(env: Env, service: str) -> PostgresSettings | None:
    """The service's PostgreSQL settings; None when no database URL is set (SQLite)."""
    found = database_url(env, service)
    if found is None:
        return None
    return PostgresSettings(
        url=found[1],
        pool_size=env.int("DATABASE_POOL_SIZE", env.int("THREADS", 8, minimum=1), minimum=1, maximum=1000),
        connect_timeout=env.float("DATABASE_CONNECT_TIMEOUT", 2.0, minimum=0.1),
        statement_timeout=env.float("DATABASE_STATEMENT_TIMEOUT", 5.0, minimum=0.001),
    )
