"""The stack's OpenAPI document: the documents of every service, merged (hipflask.openapi).

Each service generates its own from its live route table (`/_hipflask/openapi.json`), handlers
included, so the document follows what each running service really serves. A service that does
not answer within DIAGNOSTIC_TIMEOUT is left out and named in `info.x-missing`; the merged
document is reused for DIAGNOSTIC_CACHE_SECONDS, like the checks.
"""
from __future__ import annotations

import threading
import time

import requests
from flask import Flask

from hipflask.openapi import document, merge
from hipflask.state import state


class StackDocument:
    def __init__(self, app: Flask, checker):
        self.app = app
        self.checker = checker
        self._latest: tuple[float, dict] | None = None
        self._lock = threading.Lock()

    def _fetch(self, url: str) -> dict | None:
        try:
            response = self.checker.session.get(f"{url}/_hipflask/openapi.json", timeout=self.checker.timeout)
            return response.json() if response.status_code == 200 else None
        except (requests.RequestException, ValueError):
            return None

    def build(self) -> dict:
        targets = self.checker.targets
        fetched = dict(zip(targets, self.checker.pool.map(self._fetch, targets.values())))
        merged = merge([document(self.app), *(one for one in fetched.values() if one)],
                       state(self.app).settings.version)
        missing = sorted(name for name, one in fetched.items() if one is None)
        if missing:
            merged["info"]["x-missing"] = missing
        return merged

    def latest(self) -> dict:
        with self._lock:
            latest = self._latest
            if latest is None or time.time() - latest[0] >= self.checker.max_age or "x-missing" in latest[1]["info"]:
                latest = self._latest = (time.time(), self.build())
            return latest[1]
