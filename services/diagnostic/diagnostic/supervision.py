"""The native stack's process table, as its supervisor writes it (STACK_STATE_FILE).

Natively, scripts/supervisor.py keeps `$VAR_DIR/run/stack.json` (pid, start time, restart count
and state of Redis, the gateway and every service); /diagnostic shows it as `stack`. In compose
there is no such file (Docker supervises: `docker inspect --format '{{.RestartCount}}'`) and
`stack` is left out.
"""
from __future__ import annotations

import json
import time
from pathlib import Path


def report(path: str | None) -> dict:
    """{"stack": {...}} from the state file, or {} when there is none (or it cannot be read)."""
    if path is None:
        return {}
    try:
        state = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    now = time.time()
    return {"stack": {
        "supervisor_pid": state.get("pid"),
        "processes": {
            name: {"state": process.get("state"),
                   "pid": process.get("pid"),
                   "restarts": process.get("restarts"),
                   "uptime_seconds": round(now - process["started_at"], 3)
                   if process.get("state") == "running" else None}
            for name, process in state.get("processes", {}).items()
        },
    }}
