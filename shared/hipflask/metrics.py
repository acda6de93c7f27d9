"""Prometheus metrics of a service, served on its own port at `/_hipflask/metrics`.

Under gunicorn, `hipflask.gunicorn_conf` points PROMETHEUS_MULTIPROC_DIR at a directory of the
service's process tree before anything imports prometheus_client, so every worker's counters
and histograms land in shared files and a scrape of any worker sees the whole service. Without
it (the test client, `make debug`) the process's own registry is served.

Counters and histograms are defined next to the code they count (`hipflask_http_*` here,
`hipflask_redis_failures_total` in the backplane, the families' own in their services). Gauges
that describe the present (volume free bytes, process memory, Redis answering) are computed at
scrape time by `ScrapeTimeCollector`, so no process has to keep them current.
"""
from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from hipflask.process_group import process_group_metrics
from hipflask.state import state

UNMATCHED_ROUTE = "<unmatched>"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("hipflask_http_requests", "HTTP requests answered, by route template and status",
                   ["service", "route", "method", "status"])
DURATION = Histogram("hipflask_http_request_duration_seconds", "Time to answer an HTTP request (until the "
                     "response is handed to gunicorn)", ["service", "route", "method"], buckets=BUCKETS)

blueprint = Blueprint("hipflask_metrics", __name__)


def multiprocess_dir() -> str | None:
    """The shared folder when prometheus_client was loaded in multiprocess mode, else None."""
    if values.ValueClass.__name__ != "MmapedValue":
        return None
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


_STARTED = "hipflask.started"


def _started():
    request.environ[_STARTED] = time.perf_counter()


def _recorder(service: str) -> Callable:
    children: dict[tuple, tuple] = {}  # (route, method, status) -> the two labelled children

    def record(response):
        current = request._get_current_object()  # one lookup for three reads
        started = current.environ.pop(_STARTED, None)
        if started is not None:
            rule = current.url_rule
            key = (rule.rule if rule is not None else UNMATCHED_ROUTE, current.method, response.status_code)
            found = children.get(key)
            if found is None:  # bounded: routes x methods x statuses
                found = children[key] = (REQUESTS.labels(service, key[0], key[1], str(key[2])),
                                         DURATION.labels(service, key[0], key[1]))
            found[0].inc()
            found[1].observe(time.perf_counter() - started)
        return response
    return record


def _volume(path) -> tuple[int, int] | None:
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    return usage.free, usage.total


def _tree_bytes(path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass  # removed while walking
    return total


class ScrapeTimeCollector:
    """The gauges of the present, computed when Prometheus asks: build info, Redis, the data
    volume, namespaces, and (under gunicorn) the service's process group."""

    def __init__(self, app: Flask):
        self.app = app

    def collect(self) -> Iterable:
        current = state(self.app)
        settings = current.settings
        service = settings.service
        info = GaugeMetricFamily("hipflask_build_info", "The running version", labels=["service", "version"])
        info.add_metric([service, settings.version], 1)
        yield info
        redis_up = GaugeMetricFamily("hipflask_redis_up", "1 when Redis answers a ping now", labels=["service"])
        redis_up.add_metric([service], 1 if current.backplane.ping() else 0)
        yield redis_up
        data_dir = settings.data_dir
        volume = _volume(data_dir)
        if volume is not None:
            for name, text, value in (
                    ("hipflask_volume_free_bytes", "Free bytes on the data volume (for unprivileged users)", volume[0]),
                    ("hipflask_volume_size_bytes", "Size of the data volume", volume[1]),
                    ("hipflask_data_bytes", "Bytes of the files under the service's data directory",
                     _tree_bytes(data_dir))):
                family = GaugeMetricFamily(name, text, labels=["service"])
                family.add_metric([service], value)
                yield family
        count = current.namespace_count
        if count is not None:
            family = GaugeMetricFamily("hipflask_namespaces", "Namespaces with stored data", labels=["service"])
            family.add_metric([service], count())
            yield family
        for source in current.metric_sources:
            yield from source()
        if multiprocess_dir():
            yield from process_group_metrics(service)


def add_metric_source(app: Flask, source: Callable[[], Iterable]) -> None:
    """`source()` yields metric families at every scrape (a service's own scrape-time figures)."""
    state(app).metric_sources.append(source)


def set_namespace_count(app: Flask, count: Callable[[], int]) -> None:
    state(app).namespace_count = count


def sqlite_namespace_count(data_dir) -> Callable[[], int]:
    """Namespaces of a family that keeps one `<namespace>.sqlite3` per namespace (no dot files)."""
    def count() -> int:
        try:
            return sum(1 for entry in os.scandir(data_dir)
                       if entry.name.endswith(".sqlite3") and not entry.name.startswith("."))
        except OSError:
            return 0
    return count


def exposition(app: Flask) -> bytes:
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        stored = registry
    else:
        stored = REGISTRY
    collector = ScrapeTimeCollector(app)

    class Both:
        @staticmethod
        def collect():
            yield from stored.collect()
            yield from collector.collect()

    return generate_latest(Both())


@blueprint.get("/_hipflask/metrics")
def metrics():
    """Prometheus metrics of this service (every worker), text format. Served on the service's
    own port; the gateway answers 404 for `/_hipflask/` paths.

    :statuscode 200: always
    """
    return Response(exposition(current_app._get_current_object()), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Cache-Control": "no-cache"})


def init_app(app: Flask, enabled: bool) -> None:
    if not enabled:
        return
    app.before_request(_started)
    app.after_request(_recorder(state(app).settings.service))
    app.register_blueprint(blueprint)


def counter_family(name: str, text: str, labels: list[str], values: dict[tuple, float]) -> CounterMetricFamily:
    """A counter family from a dict of label values to totals (for scrape-time sources)."""
    family = CounterMetricFamily(name, text, labels=labels)
    for key, value in values.items():
        family.add_metric(list(key), value)
    return family
