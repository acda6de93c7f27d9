"""`/diagnostic` in the IETF draft "Health Check Response Format for HTTP APIs"
(`application/health+json`), and the readiness answer behind the gateway's `/readyz`.

`status` is `fail` when a replica of a service fails its readiness check, `warn` when everything
serves but something is degraded (Redis unreachable: caches and events fail open; a data volume
with less than DIAGNOSTIC_VOLUME_WARN free; uid mode seen from beyond this machine: anyone who
reaches the gateway can read and write any namespace), `pass` otherwise. `checks` holds, per service,
`<service>:responseTime` (milliseconds) and `<service>:status`, one entry per replica, with the
replica's host name as `componentId`.
"""
from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

from diagnostic.results import Result, by_service

MEDIA_TYPE = "application/health+json"
_EXTRA = ("version", "uptime_seconds", "restarts")


def _time(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _volume_free(result: Result) -> float | None:
    volume = result.detail.get("volume")
    free = volume.get("free_bytes") if isinstance(volume, dict) else None
    return free if isinstance(free, (int, float)) else None


def _entry_status(result: Result, volume_warn: int) -> tuple[str, str | None]:
    if not result.ok:
        detail = result.detail
        return ("warn" if result.name == "redis" else "fail"), str(
            detail.get("error") or detail.get("failed") or detail.get("status") or "not ready")
    free = _volume_free(result)
    if free is not None and free < volume_warn:
        return "warn", f"{int(free)} bytes free on the data volume"
    return "pass", None


def is_remote(address: str | None) -> bool:
    """The client is beyond this machine: an address that is not a loopback one."""
    try:
        return address is not None and not ipaddress.ip_address(address).is_loopback
    except ValueError:
        return True


def access_check(auth_mode: str, client: str | None, time: str) -> dict:
    """The `access:status` entry: `warn` for uid mode (the original's, trusting the Uid header) when the
    caller is not on this machine, the sign of a stack in use beyond one developer's laptop."""
    exposed = auth_mode == "uid" and is_remote(client)
    entry = {"componentId": "access", "componentType": "system", "observedValue": auth_mode,
             "status": "warn" if exposed else "pass", "time": time}
    if exposed:
        entry["output"] = ("AUTH_MODE=uid and this stack is reached from another machine: any client can read "
                           "and write any namespace; set AUTH_MODE=token (README, Security)")
    return entry


def health_document(results: list[Result], checked_at: float, settings, volume_warn: int,
                    auth_mode: str = "uid", client: str | None = None) -> dict:
    checks: dict[str, list[dict]] = {}
    statuses = []
    time = _time(checked_at)
    access = access_check(auth_mode, client, time)
    checks["access:status"] = [access]
    statuses.append(access["status"])
    for name, replicas in by_service(results).items():
        for result in replicas:
            status, output = _entry_status(result, volume_warn)
            statuses.append(status)
            component = result.detail.get("hostname") or result.address or name
            checks.setdefault(f"{name}:responseTime", []).append({
                "componentId": component, "componentType": "component" if name != "redis" else "datastore",
                "observedValue": round(result.latency_ms, 2), "observedUnit": "ms", "status": status, "time": time})
            entry = {"componentId": component, "componentType": "component" if name != "redis" else "datastore",
                     "status": status, "time": time, "address": result.address or None,
                     **{key: result.detail[key] for key in _EXTRA if key in result.detail}}
            if _volume_free(result) is not None:
                entry["volume_free_bytes"] = _volume_free(result)
            if output:
                entry["output"] = output
            checks.setdefault(f"{name}:status", []).append(entry)
    overall = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
    return {
        "status": overall,
        "version": settings.version.split(".")[0] if settings.version[:1].isdigit() else settings.version,
        "releaseId": settings.version,
        "serviceId": "hipflask",
        "description": "health of every hipflask service and of Redis",
        "checks": checks,
        **({"output": "failing: " + ", ".join(sorted({k.split(":")[0] for k, v in checks.items()
                                                       if any(e["status"] == "fail" for e in v)}))}
           if overall == "fail" else {}),
    }


def ready_document(results: list[Result], checked_at: float, settings) -> tuple[dict, int]:
    """Ready when every service has at least one ready replica (Redis does not count: it fails open)."""
    unready = sorted(name for name, replicas in by_service(results).items()
                     if name != "redis" and not any(result.ok for result in replicas))
    body = {"status": "fail" if unready else "pass", "releaseId": settings.version, "time": _time(checked_at),
            **({"output": "no ready replica: " + ", ".join(unready)} if unready else {})}
    return body, 503 if unready else 200
