"""gunicorn settings for every service, from the environment (`gunicorn -c python:hipflask.gunicorn_conf`).

Threaded workers (gthread) keep the gateway's upstream connections alive between requests;
see bench/RESULTS.md for the measurements behind the defaults. The events service runs
WORKER_CLASS=gevent: each open stream is a greenlet (gunicorn monkey-patches the worker, so
redis-py's sockets cooperate), up to WORKER_CONNECTIONS per worker.
"""
import gc
import os
import shutil
import signal
import tempfile
import threading

# prometheus_client picks its multiprocess mode when first imported: point it at this service's
# own directory before anything imports it (PROMETHEUS_MULTIPROC_DIR when given, else a fresh one).
# The folder itself is made when the master starts (on_starting).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(
        "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir(), f"hipflask-metrics-{os.getpid()}")

# The master imports no more than this: Flask, prometheus_client and the app load in the workers.
from hipflask import uptime  # noqa: E402 (after the metrics directory is chosen)
from hipflask.config import Env  # noqa: E402

_env = Env()
bind = _env.str("BIND", f"0.0.0.0:{_env.int('PORT', 8000, minimum=1)}")
workers = _env.int("WORKERS", 2, minimum=1)
threads = _env.int("THREADS", 8, minimum=1)
worker_class = _env.choice("WORKER_CLASS", "gthread", ("gthread", "gevent"))
worker_connections = _env.int("WORKER_CONNECTIONS", 4096, minimum=1)
keepalive = _env.int("KEEPALIVE_SECONDS", 75, minimum=1)
timeout = _env.int("WORKER_TIMEOUT", 120, minimum=1)
graceful_timeout = 10
# The master builds the app once and forks its workers from it (gthread only: gevent must patch
# before the app loads): the workers share the master's pages instead of each importing its own.
# What opens a connection or a thread at start renews it in the workers (hipflask.forking).
# gc.freeze before each fork keeps the collector from writing to (so copying) the shared objects.
preload_app = _env.bool("PRELOAD_APP", worker_class == "gthread")
# LOG_FORMAT=json: the service writes its own JSON request lines instead (hipflask.logs)
accesslog = None if _env.str("LOG_FORMAT", "text") == "json" else (os.environ.get("ACCESS_LOG") or None)
errorlog = "-"
loglevel = _env.str("LOG_LEVEL", "INFO").lower()
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
forwarded_allow_ips = "*"
# Above the gateway's own limits (large_client_header_buffers 4 8k: a request line or one header
# line of at most 8k, at most 32k of headers), so every refusal a client sees is the gateway's
# JSON, never gunicorn's HTML: 0 is gunicorn's largest request line (1 MiB), 32768 its most fields.
limit_request_line = 0
limit_request_fields = 32768
limit_request_field_size = 16384
# The app: a container's image sets SERVICE; the native stack names the app on the command line instead.
_service = _env.raw("SERVICE")
wsgi_app = f"{_service}.wsgi:build()" if _service else None
# gunicorn 27 opens a control socket under $HOME by default; hipflask does not use it.
control_socket_disable = True
# Seconds a SIGTERM'd service keeps serving before its graceful stop: a load balancer that still
# resolves it (nginx caches DNS for 5 s) then never meets a closed port during a rolling update.
drain_seconds = _env.float("DRAIN_SECONDS", 0.0)


def on_starting(server):
    """The master starts: one more start counted, and the metrics of a previous run are gone
    (counters begin at zero). Preloaded, both happened before the app was built (below)."""
    if not preload_app:
        _master_starts()


def _master_starts() -> None:
    uptime.count_start(_env)
    _wipe_multiprocess_dir(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def _wipe_multiprocess_dir(path: str) -> None:
    """Remove the metric files of a previous run (a master start begins from zero)."""
    os.makedirs(path, exist_ok=True)
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)


def when_ready(server):
    if drain_seconds > 0:
        _drain_before_stopping(server, drain_seconds)


def _drain_before_stopping(server, seconds: float) -> None:
    """The first SIGTERM starts a drain of `seconds` (requests still served), then stops gracefully;
    a second SIGTERM stops at once, as without a drain."""
    stop = server.handle_term
    draining = threading.Event()

    def handle_term():
        if draining.is_set():
            return stop()
        draining.set()
        server.log.info("SIGTERM: serving for %.1f s more (DRAIN_SECONDS), then stopping", seconds)
        threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM)).start()

    server.handle_term = handle_term


def pre_fork(server, worker):
    if preload_app:
        gc.freeze()


def child_exit(server, worker):
    """A worker exited: its live gauges go; its counters stay in the service's totals."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """The master stops: its metric files are of no further use (the next start begins at zero)."""
    shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


if preload_app:  # gunicorn builds a preloaded app before on_starting: it reads the start count and
    _master_starts()  # writes metric files as it is built, so both are made ready now
