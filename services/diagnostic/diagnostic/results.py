"""One check's result, and results grouped by service (replicas in order)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Result:
    name: str
    ok: bool
    latency_ms: float
    detail: dict
    address: str = ""


def by_service(results: list[Result]) -> dict[str, list[Result]]:
    grouped: dict[str, list[Result]] = {}
    for result in results:
        grouped.setdefault(result.name, []).append(result)
    return grouped
