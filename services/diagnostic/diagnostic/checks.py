"""Health checks of every service and of Redis, run in parallel with a short timeout.

DIAGNOSTIC_TARGETS names the services to check as `name=url` pairs (comma separated); each
target's host is resolved and every address it has (every replica, under compose's DNS) gets its
`/_hipflask/ready` fetched over a kept-alive connection (diagnostic.probe). Redis is pinged through
the backplane. Results are reused for DIAGNOSTIC_CACHE_SECONDS. The diagnostic service answers
for itself without a request. A service whose volume (its DATA_DIR, reported by its readiness)
has less than DISK_MIN_FREE bytes free fails its check. A check that does not answer within
DIAGNOSTIC_TIMEOUT seconds fails.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from flask import Flask
from requests.adapters import HTTPAdapter

from hipflask import uptime
from hipflask.config import ConfigError, Env
from hipflask.metrics import add_metric_source
from hipflask.state import state

from diagnostic.answers import AnswerCache, RoundAnswers
from diagnostic.api_document import StackDocument
from diagnostic.gateway_status import GatewayStatus
from diagnostic.probe import Probe, ProbeError
from diagnostic.rates import RateHistory
from diagnostic.replicas import replica_urls
from diagnostic.results import Result

DEFAULT_TARGETS = ("store=http://store:8000,kv=http://kv:8000,fs=http://fs:8000,render=http://render:8000,"
                   "events=http://events:8000")


class Checker:
    def __init__(self, targets: dict[str, str], timeout: float, backplane, settings, max_age: float = 0.0,
                 restarts: int | None = None, min_free: int = 0):
        self.settings = settings
        self.restarts = restarts
        self.min_free = min_free
        self.max_age = max_age
        self._latest: tuple[float, list[Result]] | None = None
        self._running = threading.Lock()
        self.targets = targets
        self.timeout = timeout
        self.backplane = backplane
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy lookup in the environment on every check
        adapter = HTTPAdapter(pool_connections=len(targets) + 1, pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.probe = Probe(timeout)
        self.pool = ThreadPoolExecutor(max_workers=max(4, len(targets) + 1), thread_name_prefix="diagnostic")

    def _service(self, name: str, url: str) -> Result:
        started = time.perf_counter()
        try:
            status, detail = self.probe.get_json(f"{url}/_hipflask/ready")
            ok = status == 200
        except ProbeError as exc:
            ok, detail = False, {"error": str(exc)}
        except ValueError as exc:
            ok, detail = False, {"error": type(exc).__name__}
        volume = detail.get("volume") if isinstance(detail, dict) else None
        if isinstance(volume, dict) and volume.get("free_bytes", self.min_free) < self.min_free:
            ok = False
            detail = {**detail, "error": f"the {name} volume {volume.get('path')} has {volume['free_bytes']} bytes "
                                         f"free, below DISK_MIN_FREE ({self.min_free} bytes)"}
        return Result(name, ok, (time.perf_counter() - started) * 1000, detail, urlsplit(url).netloc)

    def _redis(self) -> Result:
        started = time.perf_counter()
        ok = self.backplane.ping()
        return Result("redis", ok, (time.perf_counter() - started) * 1000, {} if ok else {"error": "unreachable"})

    def latest(self) -> tuple[float, list[Result]]:
        """(checked_at, results): the last results while younger than max_age, else a fresh run.
        One run at a time per worker: concurrent callers share its results, so a dashboard polling
        hard costs the services one round of checks per max_age. Results past max_age but within
        another max_age (plus the checks' timeout) are still answered while a new round runs in the
        background, so no request under load waits for a round; older ones wait for it."""
        latest = self._latest
        if latest is not None and self.max_age > 0:
            age = time.time() - latest[0]
            if age < self.max_age:
                return latest
            if age < 2 * self.max_age + self.timeout and self._refresh_in_background():
                return latest
        with self._running:
            latest = self._latest
            if latest is None or time.time() - latest[0] >= self.max_age:
                latest = self._latest = (time.time(), self.run())
            return latest

    def _refresh_in_background(self) -> bool:
        """Start a round in a thread of its own unless one is running; False when none could start."""
        if not self._running.acquire(blocking=False):
            return True  # a round is running: its results come within the timeout
        try:
            threading.Thread(target=self._refresh, name="diagnostic-refresh", daemon=True).start()
        except RuntimeError:  # no thread to be had: the caller runs the round itself
            self._running.release()
            return False
        return True

    def _refresh(self) -> None:
        try:
            self._latest = (time.time(), self.run())
        finally:
            self._running.release()

    def run(self) -> list[Result]:
        """Every check, in parallel; a check still running at the deadline counts as failed."""
        futures = {self.pool.submit(self._service, name, replica): (name, urlsplit(replica).netloc)
                   for name, url in self.targets.items() for replica in replica_urls(url)}
        futures[self.pool.submit(self._redis)] = ("redis", "")
        done, _ = wait(futures, timeout=self.timeout + 0.1)
        me = self.settings
        results = [Result("diagnostic", True, 0.0, {"version": me.version, "hostname": me.hostname,
                                                    "uptime_seconds": uptime.uptime_seconds(),
                                                    "restarts": self.restarts}, "self")]
        for future, (name, address) in futures.items():
            if future in done:
                results.append(future.result())
            else:
                results.append(Result(name, False, self.timeout * 1000, {"error": "timeout"}, address))
        return sorted(results, key=lambda result: (result.name, result.address))


@dataclass(frozen=True)
class Reports:
    """What the diagnostic service reports besides its checks."""

    stack_state_file: str | None  # STACK_STATE_FILE: the native stack's supervisor state
    openapi: StackDocument
    volume_warn: int  # DIAGNOSTIC_VOLUME_WARN: free bytes below which a volume is a warning
    rates: RateHistory
    answers: AnswerCache  # the last round's answers, encoded


def parse_targets(value: str) -> dict[str, str]:
    targets = {}
    for pair in filter(None, (item.strip() for item in value.split(","))):
        name, sep, url = pair.partition("=")
        if not sep or not name.strip() or not url.strip().startswith(("http://", "https://")):
            raise ConfigError(f"DIAGNOSTIC_TARGETS: expected name=http://host:port pairs, got {pair!r}")
        targets[name.strip()] = url.strip().rstrip("/")
    return targets


def init_app(app: Flask, env: Env) -> None:
    targets = parse_targets(env.environ.get("DIAGNOSTIC_TARGETS", DEFAULT_TARGETS))  # empty: no targets
    timeout = env.float("DIAGNOSTIC_TIMEOUT", 1.0, minimum=0.01)
    max_age = env.float("DIAGNOSTIC_CACHE_SECONDS", 1.0)
    min_free = env.size("DISK_MIN_FREE", "64m")
    current = state(app)
    checker = Checker(targets, timeout, current.backplane, current.settings, max_age, current.restarts, min_free)
    current.storage = checker
    stack_state_file = env.raw("STACK_STATE_FILE")
    volume_warn = env.size("DIAGNOSTIC_VOLUME_WARN", "1g")
    current.service_settings = Reports(stack_state_file=stack_state_file,
                                       openapi=StackDocument(app, checker),
                                       volume_warn=volume_warn,
                                       rates=RateHistory(checker),
                                       answers=AnswerCache(volume_warn, stack_state_file))
    gateway = GatewayStatus(env.str("GATEWAY_STATUS_URL", "http://gateway:8081/_gateway/status"), timeout)
    add_metric_source(app, gateway.collect)


def current_checker() -> Checker:
    """The Checker of the app serving the current request."""
    return state().storage


def current_answers() -> RoundAnswers:
    """The encoded answers of the last round of checks."""
    return current_reports().answers.get(current_checker().latest())


def current_reports() -> Reports:
    """The diagnostic service's other reports (supervisor state, OpenAPI, rates) of the current request's app."""
    return state().service_settings
