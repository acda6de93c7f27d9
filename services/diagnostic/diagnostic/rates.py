"""Request and error rates per service for the status page's charts, from the services' metrics.

While someone asks for `RateHistory.series()` (the status page, every few seconds), a thread of
the worker takes a sample every `interval` seconds: every replica's `/_hipflask/metrics` is read
and its `hipflask_http_requests_total` summed per service (all requests, and those with a 5xx
status). It stops a minute after the last question. Rates are the differences between
consecutive samples (a restarted replica's reset counts as zero). A worker keeps the last `keep`
samples in memory: six minutes at the default pace, whichever worker the page reaches.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import wait

import requests
from prometheus_client.parser import text_string_to_metric_families

from diagnostic.replicas import replica_urls

REQUESTS = "hipflask_http_requests_total"
IDLE_SECONDS = 60.0


def totals(text: str) -> tuple[float, float]:
    """(requests, 5xx requests) in a metrics exposition; the scrapes of the metrics themselves excluded."""
    everything = errors = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != REQUESTS or sample.labels.get("route") == "/_hipflask/metrics":
                continue
            everything += sample.value
            if sample.labels.get("status", "").startswith("5"):
                errors += sample.value
    return everything, errors


class RateHistory:
    def __init__(self, checker, interval: float = 2.0, keep: int = 180):
        self.checker = checker
        self.interval = interval
        self.samples: deque[tuple[float, dict[str, tuple[float, float]]]] = deque(maxlen=keep)
        self.lock = threading.Lock()
        self.asked_at = 0.0
        self.sampler: threading.Thread | None = None

    def _read(self, url: str) -> tuple[float, float] | None:
        try:
            response = self.checker.session.get(f"{url}/_hipflask/metrics", timeout=self.checker.timeout)
            return totals(response.text) if response.status_code == 200 else None
        except (requests.RequestException, ValueError):
            return None

    def _sample(self) -> dict[str, tuple[float, float]]:
        jobs = {self.checker.pool.submit(self._read, replica): name
                for name, url in self.checker.targets.items() for replica in replica_urls(url)}
        wait(jobs, timeout=self.checker.timeout + 0.1)
        sums: dict[str, tuple[float, float]] = {}
        for job, name in jobs.items():
            value = job.result() if job.done() else None
            if value is not None:
                previous = sums.get(name, (0.0, 0.0))
                sums[name] = (previous[0] + value[0], previous[1] + value[1])
        return sums

    def _sampling(self) -> None:
        while time.monotonic() - self.asked_at < IDLE_SECONDS:
            sample = (time.time(), self._sample())
            with self.lock:
                self.samples.append(sample)
            time.sleep(self.interval)
        with self.lock:
            self.sampler = None

    def series(self) -> list[dict]:
        """[{"time": t, "rates": {service: {"requests": per second, "errors": per second}}}], oldest first."""
        with self.lock:
            self.asked_at = time.monotonic()
            if self.sampler is None:
                self.sampler = threading.Thread(target=self._sampling, name="diagnostic-rates", daemon=True)
                self.sampler.start()
            samples = list(self.samples)
        points = []
        for (t0, before), (t1, after) in zip(samples, samples[1:]):
            span = max(t1 - t0, 1e-6)
            rates = {}
            for name, (requests_now, errors_now) in after.items():
                requests_then, errors_then = before.get(name, (requests_now, errors_now))
                rates[name] = {"requests": round(max(requests_now - requests_then, 0) / span, 3),
                               "errors": round(max(errors_now - errors_then, 0) / span, 3)}
            points.append({"time": round(t1, 3), "rates": rates})
        return points
