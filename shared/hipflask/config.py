"""Configuration from environment variables, read and checked once at start-up.

Every variable is listed in the README's configuration table. A wrong value raises
ConfigError naming the variable, which stops the service before it serves anything.
"""
from __future__ import annotations

import builtins
import logging
import math
import os
import re
import socket
import sqlite3
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class ConfigError(ValueError):
    """A configuration variable holds a value the service cannot start with."""


class Env:
    """Typed reads of environment variables; every failure names the variable.

    The methods are named after the types they return, so the annotations below `str` and `int` name
    those types as `builtins.str` and `builtins.int`."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        self.environ = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    def str(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def secret(self, name: builtins.str) -> builtins.str | None:
        """A secret from NAME, or read from the file NAME_FILE names (a Docker secret); never both."""
        value, path = self.raw(name), self.raw(f"{name}_FILE")
        if value is not None and path is not None:
            raise ConfigError(f"{name}: set {name} or {name}_FILE, not both")
        if path is None:
            return value
        try:
            text = Path(path).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {path} ({exc.strerror})") from None
        return text or None

    def int(self, name: builtins.str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ConfigError(f"{name}: expected an integer, got {value!r}") from None
        if minimum is not None and number < minimum:
            raise ConfigError(f"{name}: must be at least {minimum}, got {number}")
        if maximum is not None and number > maximum:
            raise ConfigError(f"{name}: must be at most {maximum}, got {number}")
        return number

    def float(self, name: builtins.str, default: float, minimum: float = 0.0) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{name}: expected a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ConfigError(f"{name}: expected a finite number, got {value!r}")
        if number < minimum:
            raise ConfigError(f"{name}: must be at least {minimum}, got {number}")
        return number

    def size(self, name: builtins.str, default: builtins.str) -> builtins.int:
        """A byte count in nginx's notation: `1048576`, `512k`, `10m`, `2g`."""
        value = self.str(name, default)
        match = _SIZE.match(value)
        if not match:
            raise ConfigError(f"{name}: expected a size such as 10m, 512k or 2g, got {value!r}")
        return int(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]

    def bool(self, name: builtins.str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}: expected true or false, got {value!r}")

    def choice(self, name: builtins.str, default: builtins.str, choices: tuple[builtins.str, ...]) -> builtins.str:
        value = self.str(name, default)
        if value not in choices:
            raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
        return value


def package_version() -> str:
    try:
        return metadata.version("hipflask")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def check_sqlite_vfs(vfs: str | None) -> str | None:
    """The VFS, once SQLite has opened a WAL database with it; ConfigError otherwise."""
    if vfs is None:
        return None
    with tempfile.TemporaryDirectory(prefix="hipflask-vfs-") as folder:
        try:
            connection = sqlite3.connect(f"file:{folder}/check.sqlite3?vfs={vfs}", uri=True)
            try:
                mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            finally:
                connection.close()
        except sqlite3.Error as exc:
            raise ConfigError(f"SQLITE_VFS: SQLite cannot use the VFS {vfs!r} ({exc})") from None
    if mode.lower() != "wal":
        raise ConfigError(f"SQLITE_VFS: the VFS {vfs!r} cannot run SQLite in WAL mode (got {mode})")
    return vfs


@dataclass(frozen=True)
class Settings:
    """The settings every service shares (see the README's configuration table)."""

    service: str
    port: int
    log_level: str
    redis_url: str
    redis_timeout: float
    user_header: str
    event_sources: frozenset[str]
    event_stream_maxlen: int
    events_max_value_bytes: int
    hostname: str
    version: str
    sqlite_vfs: str | None
    data_dir: Path
    max_body_size: int
    max_json_depth: int

    @classmethod
    def from_env(cls, service: str, env: Env) -> Settings:
        log_level = env.str("LOG_LEVEL", "INFO")
        if not isinstance(logging.getLevelName(log_level), int):
            raise ConfigError(f"LOG_LEVEL: expected a Python logging level name (DEBUG, INFO, ...), got {log_level!r}")
        redis_url = env.str("REDIS_URL", "redis://localhost:6379/0")
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"REDIS_URL: expected a redis://, rediss:// or unix:// URL, got {redis_url!r}")
        user_header = env.str("USER_HEADER_NAME", "Uid")
        if not re.fullmatch(r"[A-Za-z0-9-]+", user_header):
            raise ConfigError(f"USER_HEADER_NAME: expected an HTTP header name, got {user_header!r}")
        sources = frozenset(s.strip() for s in env.str("LOCAL_EVENT_SOURCES", "").split(",") if s.strip())
        return cls(
            service=service,
            port=env.int("PORT", 8000, minimum=1, maximum=65535),
            log_level=log_level,
            redis_url=redis_url,
            redis_timeout=env.float("REDIS_TIMEOUT", 0.25, minimum=0.001),
            user_header=user_header,
            event_sources=sources,
            event_stream_maxlen=env.int("EVENT_STREAM_MAXLEN", 10000, minimum=1),
            events_max_value_bytes=env.int("EVENTS_MAX_VALUE_BYTES", 8192, minimum=0),
            hostname=env.str("X_HOSTNAME", "") or socket.gethostname() or "localhost",
            version=env.str("APP_VERSION", "") or env.str("CURRENT_SHA", "") or package_version(),
            sqlite_vfs=check_sqlite_vfs(env.raw("SQLITE_VFS")),
            data_dir=Path(env.str("DATA_DIR", f"var/data/{service}")),
            max_body_size=env.size("MAX_BODY_SIZE", "10m"),
            max_json_depth=env.int("MAX_JSON_DEPTH", 64, minimum=1, maximum=500),
        )
