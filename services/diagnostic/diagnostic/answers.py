"""The answers of `/diagnostic` for one round of checks, encoded once per round.

A round's results do not change until the next round (DIAGNOSTIC_CACHE_SECONDS), so the summary,
its `application/health+json` form and the readiness answer are encoded when the first request
after a round asks, and every request until the next round sends those bytes. What differs per
request is spliced in: the summary's `uid` (the request's namespace) and, in health+json, the
`access:status` entry (uid mode reached from another machine is a warning), of which both
variants are encoded. The supervisor's state file (STACK_STATE_FILE) is read once per round too.
"""
from __future__ import annotations

import json as stdlib_json
import secrets
from dataclasses import dataclass

from flask import json

from hipflask import access
from hipflask.jsonp import dumps
from hipflask.state import state

from diagnostic import health_json, supervision
from diagnostic.results import Result, by_service

json_text = stdlib_json.dumps  # of a str, the same text as Flask's (ASCII-escaped), without its provider lookup
UNPROTECTED_WARNING = "AUTH_MODE=uid: any client reads and writes any namespace by sending its Uid header"


def summary_document(checked_at: float, results: list[Result], settings, mode: str, uid: str,
                     stack_state_file: str | None) -> dict:
    """The summary `/diagnostic` answers with (the original's shape, with `status_code`)."""
    services = by_service(results)
    failed = [name for name, replicas in services.items() if not all(result.ok for result in replicas)]
    checks = {}
    for name, replicas in services.items():
        ok = all(result.ok for result in replicas)
        first = next((result for result in replicas if not result.ok), replicas[0])
        checks[name] = {"status": "ok" if ok else "failed",
                        "latency_ms": round(max(result.latency_ms for result in replicas), 2),
                        "version": first.detail.get("version"),
                        "hostname": first.detail.get("hostname"),
                        "uptime_seconds": first.detail.get("uptime_seconds"),
                        "restarts": first.detail.get("restarts"),
                        **({"volume": first.detail["volume"]} if "volume" in first.detail else {}),
                        **({"redis_failures": first.detail["redis_failures"]}
                           if first.detail.get("redis_failures") else {}),
                        **({"detail": first.detail} if not ok else {})}
    return {
        "message": "ok" if not failed else "failed",
        "version": settings.version,
        "hostname": settings.hostname,
        "uid": uid,
        "failed": failed,
        "checked_at": round(checked_at, 3),
        "checks": checks,
        **supervision.report(stack_state_file),
        "auth_mode": mode,
        "warnings": [UNPROTECTED_WARNING] if mode == "uid" else [],
        "status_code": 200 if not failed else 500,
    }


@dataclass(frozen=True)
class RoundAnswers:
    """One round's answers, encoded: the summary's JSON text around its `uid` value, and status."""

    summary_head: str
    summary_tail: str
    summary_status: int
    health: tuple[tuple[bytes, int], tuple[bytes, int]]  # health+json (body, status): local, remote client
    ready: bytes
    ready_status: int

    def summary_text(self, uid: str) -> str:
        """The summary's compact JSON text (no `status_code`) for a request acting on `uid`."""
        return self.summary_head + json_text(uid) + self.summary_tail

    def health_answer(self, remote: bool) -> tuple[bytes, int]:
        """The health+json body (with its newline) and status for a client on this machine or beyond it."""
        return self.health[remote]


def encode(checked_at: float, results: list[Result], settings, mode: str, volume_warn: int,
           stack_state_file: str | None) -> RoundAnswers:
    marker = secrets.token_hex(16)  # stands for the uid; never in a result, so the split is exact
    document = summary_document(checked_at, results, settings, mode, marker, stack_state_file)
    status = document.pop("status_code")
    head, _, tail = dumps(document).partition(dumps(marker))
    local, remote = (_health_answer(health_json.health_document(results, checked_at, settings, volume_warn,
                                                                 mode, client))
                     for client in ("127.0.0.1", "192.0.2.1"))  # a loopback and a documentation address
    ready, ready_status = health_json.ready_document(results, checked_at, settings)
    return RoundAnswers(head, tail, status, (local, remote), (json.dumps(ready) + "\n").encode(), ready_status)


def _health_answer(document: dict) -> tuple[bytes, int]:
    return (json.dumps(document) + "\n").encode(), 503 if document["status"] == "fail" else 200


class AnswerCache:
    """The encoded answers of the last round seen (per worker); a new round is encoded by the first
    request that sees it (two requests may both encode it: the same bytes)."""

    def __init__(self, volume_warn: int, stack_state_file: str | None):
        self.volume_warn = volume_warn
        self.stack_state_file = stack_state_file
        self._last: tuple[tuple[float, list[Result]], RoundAnswers] | None = None

    def get(self, latest: tuple[float, list[Result]]) -> RoundAnswers:
        """The answers of `latest` (a Checker's (checked_at, results)), in the app's context."""
        last = self._last
        if last is not None and last[0] is latest:
            return last[1]
        answers = encode(*latest, state().settings, access.policy().mode, self.volume_warn, self.stack_state_file)
        self._last = (latest, answers)
        return answers
