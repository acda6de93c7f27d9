"""How long this service's process has been up, and how often it has been restarted.

STARTED_AT is taken when the hipflask package is first imported. gunicorn's master imports it
when it reads hipflask.gunicorn_conf, before it forks its workers, so every worker reports the
master's start: a restart of the service resets the uptime, a worker replaced by the master does not.

The restart count is HIPFLASK_RESTARTS when it is set (the native stack's supervisor sets it at
every start). Otherwise it comes from HIPFLASK_START_COUNT_FILE, a file the gunicorn master adds
one to at every start (the images keep it in the container's own filesystem, which lives as long
as the container: Docker's restarts are counted, a new container starts again from 0). With
neither, the count is unknown (None).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from hipflask.config import Env

STARTED_AT = time.time()


def count_start(env: Env) -> None:
    """One more start in HIPFLASK_START_COUNT_FILE, when it is set (gunicorn's on_starting)."""
    path = env.raw("HIPFLASK_START_COUNT_FILE")
    if path is None:
        return
    file = Path(path)
    temporary = file.with_name(file.name + ".tmp")
    temporary.write_text(str(_starts(file) + 1))
    os.replace(temporary, file)


def restarts(env: Env) -> int | None:
    """How often this service was restarted: HIPFLASK_RESTARTS, else the start count file, else None."""
    if env.raw("HIPFLASK_RESTARTS") is not None:
        return env.int("HIPFLASK_RESTARTS", 0, minimum=0)
    path = env.raw("HIPFLASK_START_COUNT_FILE")
    if path is None:
        return None
    return max(0, _starts(Path(path)) - 1)


def uptime_seconds() -> float:
    return round(time.time() - STARTED_AT, 3)


def _starts(file: Path) -> int:
    try:
        return int(file.read_text().strip() or 0)
    except (OSError, ValueError):  # no count yet, or a torn file from an older crash
        return 0
