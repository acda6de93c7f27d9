"""Liveness and readiness of a service, for healthchecks and for the diagnostic service.

`/_hipflask/live` answers as long as the process serves requests. `/_hipflask/ready` runs the
service's readiness checks (each a callable returning True or raising); 200 when all pass, 503
naming those that failed. Redis is reported but does not make a service unready: caches and
events fail open. Both report the process's `uptime_seconds` and `restarts` (hipflask.uptime).
Readiness also reports the service's DATA_DIR with its free bytes (`volume`), for the
diagnostic service to compare with DISK_MIN_FREE.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, jsonify

from hipflask import uptime
from hipflask.access import open_to_all
from hipflask.config import Env
from hipflask.state import state

blueprint = Blueprint("hipflask_health", __name__)


def init_app(app: Flask, env: Env) -> None:
    state(app).restarts = uptime.restarts(env)
    app.register_blueprint(blueprint)


def _lifetime() -> dict:
    return {"uptime_seconds": uptime.uptime_seconds(), "restarts": state().restarts}


def add_ready_check(app: Flask, name: str, check: Callable[[], Any]) -> None:
    state(app).ready_checks[name] = check


def volume_space(folder) -> dict | None:
    """`{"path", "free_bytes"}` of the file system holding `folder` (None when it does not exist)."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None
    return {"path": str(folder), "free_bytes": stats.f_bavail * stats.f_frsize}


@blueprint.get("/_hipflask/live")
@open_to_all
def live():
    """Liveness: the process answers.

    :statuscode 200: always
    """
    settings = state().settings
    return jsonify(status="ok", service=settings.service, version=settings.version, hostname=settings.hostname,
                   **_lifetime())


@blueprint.get("/_hipflask/ready")
@open_to_all
def ready():
    """Readiness: the service's own dependencies answer.

    :statuscode 200: every check passes
    :statuscode 503: a check failed; ``failed`` names it
    """
    current = state()
    settings = current.settings
    failed = {}
    for name, check in current.ready_checks.items():
        try:
            if not check():
                failed[name] = "check returned false"
        except Exception as exc:  # a readiness check reports, it never raises
            failed[name] = str(exc) or type(exc).__name__
    backplane = current.backplane
    body = {
        "status": "ok" if not failed else "failed",
        "service": settings.service,
        "version": settings.version,
        "hostname": settings.hostname,
        "failed": failed,
        "redis": "ok" if backplane.ping() else "unreachable",
        "redis_failures": dict(backplane.failures),
        **_lifetime(),
    }
    volume = volume_space(settings.data_dir)
    if volume is not None:
        body["volume"] = volume
    return jsonify(body), 200 if not failed else 503
