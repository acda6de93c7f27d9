#!/usr/bin/env python3
"""hipflask's benchmark: every endpoint family through the gateway, against this machine's ceilings.

    bench/run.py                  the native stack in a temporary var dir on free ports, 3 runs x 5 s
    bench/run.py --quick          1 run x 1 s, small files, 8 connections: exit status 1 when a scenario
                                  could not run or had an error (never a speed): `make test` runs it
    bench/run.py --compose        against the compose stack (project hipflask-bench, its own volumes)
    bench/run.py --scale          the store scenarios against compose with --scale store=3, then checks
                                  that every acknowledged write is there exactly once with its own id
    HIPFLASK_URL=http://host:port bench/run.py   against a running stack (memory from --var's pgid files)
    bench/run.py --profile        also py-spy profiles of the hot paths (pip installs py-spy in the venv)

Request scenarios run wrk with the same connections, threads and duration; each is compared with the
bare-Flask ceiling (bench/ceiling_app.py under the services' gunicorn settings behind the same gateway).
Downloads are compared with nginx serving a static file from the same disk, uploads with `dd
conv=fsync` on that disk. Runs are interleaved (every scenario once, then again) so drift on a shared
machine hits them alike; the table shows the median with min and max, and each ratio is the median of
the runs' ratios to the ceiling of the same round. A full run rewrites its generated block of
bench/RESULTS.md and keeps the rest (the findings written by hand).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "RESULTS.md"
WRK_SCRIPT = BENCH / "wrk.lua"
COMPOSE_OVERRIDE = BENCH / "compose.bench.yml"
COMPOSE_PROJECT = "hipflask-bench"
SERVICES = ("diagnostic", "store", "kv", "fs", "render")
MiB = 1 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# ---- processes: memory and CPU of each service, from /proc ----------------------------------------

def scan_proc() -> dict[int, tuple[int, int, float]]:
    """pid -> (ppid, pgrp, cpu seconds) of every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), (int(fields[11]) + int(fields[12])) / TICK)
    return table


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError):
        return 0


@dataclass
class Group:
    """The processes of one service: process groups (native) or container process trees (compose)."""
    name: str
    pgids: list[int] = field(default_factory=list)
    roots: list[int] = field(default_factory=list)

    def members(self, table: dict[int, tuple[int, int, float]]) -> list[int]:
        if self.pgids:
            return [pid for pid, (_, pgrp, _) in table.items() if pgrp in self.pgids]
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        found, todo = [], [root for root in self.roots if root in table]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, ()))
        return found


class Sampler(threading.Thread):
    """Samples the RSS summed over each group's processes; keeps the peak of the current window."""

    def __init__(self, groups_source, interval: float = 0.2):
        super().__init__(daemon=True)
        self.groups_source = groups_source  # a callable: the groups may change (a restarted service)
        self.interval = interval
        self.lock = threading.Lock()
        self.members: dict[str, list[int]] = {}
        self.peaks: dict[str, int] = {}
        self.stopped = threading.Event()
        self.refresh()

    def refresh(self) -> dict[int, tuple[int, int, float]]:
        table = scan_proc()
        members = {group.name: group.members(table) for group in self.groups_source()}
        with self.lock:
            self.members = members
        return table

    def sample(self) -> dict[str, int]:
        with self.lock:
            members = dict(self.members)
        return {name: sum(rss(pid) for pid in pids) for name, pids in members.items()}

    def run(self) -> None:
        last_refresh = time.monotonic()
        while not self.stopped.wait(self.interval):
            if time.monotonic() - last_refresh > 1.0:
                self.refresh()
                last_refresh = time.monotonic()
            current = self.sample()
            with self.lock:
                for name, value in current.items():
                    self.peaks[name] = max(self.peaks.get(name, 0), value)

    def start_window(self) -> None:
        with self.lock:
            self.peaks = {}

    def end_window(self) -> dict[str, int]:
        current = self.sample()
        with self.lock:
            for name, value in current.items():
                self.peaks[name] = max(self.peaks.get(name, 0), value)
            return dict(self.peaks)

    def cpu(self) -> dict[str, float]:
        table = self.refresh()
        with self.lock:
            members = dict(self.members)
        return {name: sum(table[pid][2] for pid in pids if pid in table) for name, pids in members.items()}


# ---- the stacks under test ------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_range(count: int) -> int:
    """The first of `count` consecutive free loopback ports."""
    for _ in range(200):
        base = free_port()
        if base + count >= 65535:
            continue
        try:
            with contextlib.ExitStack() as stack:
                for port in range(base, base + count):
                    s = stack.enter_context(socket.socket())
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no range of free ports")


def http_request(url: str, method: str = "GET", body: bytes | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, dict, bytes]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path or "/", body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def wait_for(url: str, timeout: float, ok=lambda status: status == 200) -> int | None:
    """Polls url until ok(status) or the deadline; returns the last status (None: no answer)."""
    deadline = time.monotonic() + timeout
    status = None
    while True:
        try:
            status = http_request(url, timeout=3)[0]
            if ok(status):
                return status
        except OSError:
            status = None
        if time.monotonic() > deadline:
            return status
        time.sleep(0.25)


class Target:
    """A running hipflask stack the benchmark talks to; subclasses start and stop it."""
    kind = "url"
    url: str
    work: Path  # a scratch folder on the disk under test

    def groups(self) -> list[Group]:
        return []

    def put_static(self, source: Path, name: str) -> None:
        raise NotImplementedError

    def remove_static(self, name: str) -> None:
        pass

    def dd(self, count_mib: int) -> tuple[float, str]:
        """Seconds to write count_mib MiB with dd conv=fsync on the fs data disk, and where."""
        raise NotImplementedError

    def stop(self) -> None:
        pass


def run_dd(path: Path, count_mib: int) -> float:
    started = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={count_mib}", "conv=fsync"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    path.unlink(missing_ok=True)
    return elapsed


def start_ceiling(env: dict[str, str], bind: str, log_path: Path) -> subprocess.Popen:
    """bench/ceiling_app.py under the services' own gunicorn settings, in its own process group."""
    with open(log_path, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:hipflask.gunicorn_conf", "--pythonpath", str(BENCH),
             "ceiling_app:app"],
            env=dict(env, BIND=bind, PYTHONUNBUFFERED="1"), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)


class NativeStack(Target):
    """scripts/stack.py in a temporary var dir on free ports, plus the ceiling app."""
    kind = "native"

    def __init__(self, env_overrides: dict[str, str], access_log: bool, keep: bool):
        self.keep = keep
        self.var = Path(tempfile.mkdtemp(prefix="hipflask-bench-", dir=os.environ.get("BENCH_TMPDIR", "/var/tmp")))
        self.work = self.var / "bench"
        self.static_dir = self.var / "static"
        self.work.mkdir()
        self.static_dir.mkdir()
        self.port = free_port()
        self.base = free_port_range(len(SERVICES) + 1)
        self.redis_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        self.env.pop("HIPFLASK_URL", None)
        self.env.update({"STATIC_DIR": str(self.static_dir), "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0"})
        if not access_log:
            self.env["GATEWAY_ACCESS_LOG"] = "off"
        self.env.update(env_overrides)
        self.stack: subprocess.Popen | None = None
        self.ceiling: subprocess.Popen | None = None
        self.log_path = self.var / "stack.log"

    def start(self) -> None:
        log(f"starting the native stack at {self.url} (var {self.var}, services on {self.base}..{self.base + 5})")
        with open(self.log_path, "ab") as out:
            self.stack = subprocess.Popen(
                [sys.executable, str(ROOT / "scripts" / "stack.py"), "run", "--port", str(self.port),
                 "--var", str(self.var), "--base-port", str(self.base), "--redis-port", str(self.redis_port)],
                env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        self.ceiling = start_ceiling(self.env, f"127.0.0.1:{self.base + len(SERVICES)}", self.var / "ceiling.log")
        ready = self.var / "run" / "stack.ready"
        deadline = time.monotonic() + 120
        while not ready.exists():
            if self.stack.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the native stack did not start; see {self.log_path}:\n{self.tail()}")
            time.sleep(0.2)

    def tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return ""

    def groups(self) -> list[Group]:
        groups = []
        for name in ("gateway", "redis") + SERVICES:
            try:
                groups.append(Group(name, pgids=[int((self.var / "run" / f"{name}.pgid").read_text())]))
            except (OSError, ValueError):
                pass
        if self.ceiling is not None:
            groups.append(Group("bench-ceiling", pgids=[self.ceiling.pid]))
        return groups

    def put_static(self, source: Path, name: str) -> None:
        target = self.static_dir / name
        if not target.exists():
            os.link(source, target) if source.stat().st_dev == self.static_dir.stat().st_dev \
                else shutil.copyfile(source, target)

    def dd(self, count_mib: int) -> tuple[float, str]:
        data = self.var / "data" / "fs"
        return run_dd(data / ".bench-dd", count_mib), str(data)

    def stop(self) -> None:
        for process in (self.ceiling, self.stack):
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in (self.ceiling, self.stack):
            if process is not None:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        if self.keep:
            log(f"kept {self.var}")
        else:
            shutil.rmtree(self.var, ignore_errors=True)


class UrlStack(Target):
    """A stack someone else runs (HIPFLASK_URL). With a var dir (--var, default ./var) the pgid files
    give the memory of each service, and its nginx configuration the static and fs folders."""
    kind = "url"

    def __init__(self, url: str, var: Path):
        self.url = url.rstrip("/")
        self.var = var.resolve()
        self.work = Path(tempfile.mkdtemp(prefix="hipflask-bench-", dir=os.environ.get("BENCH_TMPDIR", "/var/tmp")))
        conf = self.var / "run" / "hipflask.conf"
        text = conf.read_text() if conf.exists() else ""
        static = re.search(r"location /static/ \{\s*alias ([^;]+?)/?;", text)
        fs_data = re.search(r"location /_fs_files/ \{[^}]*?alias ([^;]+?)/?;", text)
        self.static_dir = Path(static.group(1)) if static else None
        self.fs_data = Path(fs_data.group(1)) if fs_data else None
        self.ceiling: subprocess.Popen | None = None
        self.placed: list[Path] = []

    def start(self) -> None:
        if wait_for(f"{self.url}/_bench/flask", 2) == 200:
            return
        nginx_conf = self.var / "run" / "nginx.conf"
        found = re.search(r"upstream hipflask_bench\s*\{\s*server (\S+);",
                          nginx_conf.read_text() if nginx_conf.exists() else "")
        if not found:
            raise RuntimeError(f"{self.url}/_bench/flask does not answer and {nginx_conf} names no bench "
                               f"upstream: start bench/ceiling_app.py there yourself")
        log(f"starting the bare-Flask ceiling at {found.group(1)}")
        self.ceiling = start_ceiling(dict(os.environ), found.group(1), self.work / "ceiling.log")

    def groups(self) -> list[Group]:
        groups = []
        for name in ("gateway", "redis") + SERVICES:
            with contextlib.suppress(OSError, ValueError):
                groups.append(Group(name, pgids=[int((self.var / "run" / f"{name}.pgid").read_text())]))
        if self.ceiling is not None:
            groups.append(Group("bench-ceiling", pgids=[self.ceiling.pid]))
        return groups

    def put_static(self, source: Path, name: str) -> None:
        if self.static_dir is None:
            raise RuntimeError(f"cannot find the static folder of {self.url} (no {self.var}/run/hipflask.conf)")
        target = self.static_dir / name
        shutil.copyfile(source, target)
        self.placed.append(target)

    def dd(self, count_mib: int) -> tuple[float, str]:
        folder = self.fs_data if self.fs_data and self.fs_data.is_dir() else self.work
        return run_dd(folder / ".bench-dd", count_mib), str(folder)

    def stop(self) -> None:
        for path in self.placed:
            path.unlink(missing_ok=True)
        if self.ceiling is not None and self.ceiling.poll() is None:
            os.killpg(self.ceiling.pid, signal.SIGTERM)
            self.ceiling.wait(30)
        shutil.rmtree(self.work, ignore_errors=True)


class ComposeStack(Target):
    """docker compose with bench/compose.bench.yml (the ceiling service), project hipflask-bench."""
    kind = "compose"

    def __init__(self, scale_store: int, env_overrides: dict[str, str], access_log: bool, keep: bool):
        self.keep = keep
        self.scale_store = scale_store
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.work = Path(tempfile.mkdtemp(prefix="hipflask-bench-", dir=os.environ.get("BENCH_TMPDIR", "/var/tmp")))
        self.env = dict(os.environ, GATEWAY_PORT=str(self.port), GATEWAY_BIND="127.0.0.1",
                        BENCH_GATEWAY_ACCESS_LOG="/dev/stdout hipflask" if access_log else "off")
        self.env.update(env_overrides)
        compose = os.environ.get("COMPOSE", "docker compose").split()
        self.compose = compose + ["-f", str(ROOT / "docker-compose.yml"), "-f", str(COMPOSE_OVERRIDE),
                                  "-p", COMPOSE_PROJECT]
        self._groups: list[Group] | None = None
        self.started = False

    def run(self, *args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(self.compose + list(args), env=self.env, cwd=ROOT, check=check, text=True,
                              stdout=subprocess.PIPE if capture else None,
                              stderr=subprocess.PIPE if capture else None)

    def start(self) -> None:
        log(f"starting the compose stack (project {COMPOSE_PROJECT}) at {self.url}"
            + (f" with store x{self.scale_store}" if self.scale_store > 1 else ""))
        args = ["up", "-d", "--build", "--wait"]
        if self.scale_store > 1:
            args += ["--scale", f"store={self.scale_store}"]
        self.run(*args)
        self.started = True

    def containers(self, service: str) -> list[str]:
        out = self.run("ps", "-q", service, capture=True, check=False).stdout
        return out.split()

    def groups(self) -> list[Group]:
        """Found once the stack is up: the docker CLI costs more CPU than a benchmark can spare."""
        if self._groups is None and self.started:
            self._groups = self.find_groups()
        return self._groups or []

    def find_groups(self) -> list[Group]:
        groups = []
        for name in ("gateway", "redis", "bench-ceiling") + SERVICES:
            ids = self.containers(name)
            if not ids:
                continue
            pids = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", *ids],
                                  capture_output=True, text=True).stdout.split()
            groups.append(Group(name, roots=[int(p) for p in pids if p.isdigit() and p != "0"]))
        return groups

    def put_static(self, source: Path, name: str) -> None:
        self.run("cp", str(source), f"gateway:/srv/static/{name}")

    def dd(self, count_mib: int) -> tuple[float, str]:
        started = time.perf_counter()
        self.run("exec", "-T", "fs", "sh", "-c",
                 f"dd if=/dev/zero of=/data/.bench-dd bs=1M count={count_mib} conv=fsync 2>/dev/null; "
                 f"rm -f /data/.bench-dd")
        return time.perf_counter() - started, "the fs-data volume (inside the fs container)"

    def stop(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        if self.keep:
            log(f"kept the compose project {COMPOSE_PROJECT} running at {self.url}")
            return
        self.run("down", "-v", "--remove-orphans", check=False, capture=True)


# ---- scenarios ---------------------------------------------------------------------------------

@dataclass
class Scenario:
    name: str
    kind: str                       # "wrk", "upload" or "dd"
    service: str                    # whose memory and CPU matter (gateway, a service, bench-ceiling)
    path: str = ""
    method: str = "GET"
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    connections: int = 32
    ceiling: str | None = None      # the ceiling scenario it is compared with
    is_ceiling: bool = False
    file_scenario: bool = False     # reported in MB/s
    marker: bool = False            # unique body per request, acknowledged ids collected
    upload: str = ""                # "multipart" or "put"
    size: int = 0                   # upload and dd sizes
    family: str = ""                # a scenario is skipped when its family does not answer


@dataclass
class Measure:
    rps: float = 0.0
    mbps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0
    requests: int = 0
    mem_growth: int = 0
    peaks: dict[str, int] = field(default_factory=dict)
    cpu_us: dict[str, float] = field(default_factory=dict)
    detail: str = ""


STORE_BODY = json.dumps({
    "marker": "%MARKER%", "name": "pants", "number": 1, "price": 19.99, "in_stock": True,
    "tags": ["red", "cotton", "sale"], "note": "a benchmark item of about two hundred bytes, " + "x" * 30,
}).encode()
KV_VALUE = (b"hipflask benchmark value " * 41)[:1024]


def scenarios(file_size: int, big_size: int) -> list[Scenario]:
    range_header = {"Range": f"bytes={MiB}-{MiB + 65535}"}
    return [
        Scenario("ceiling: gateway ping", "wrk", "gateway", "/_gateway/ping", is_ceiling=True),
        Scenario("ceiling: bare Flask", "wrk", "bench-ceiling", "/_bench/flask", is_ceiling=True),
        Scenario("GET /diagnostic", "wrk", "diagnostic", "/diagnostic", ceiling="ceiling: bare Flask",
                 family="diagnostic"),
        Scenario("POST /store/<name>", "wrk", "store", "/store/bench_post", "POST", STORE_BODY,
                 {"Content-Type": "application/json"}, ceiling="ceiling: bare Flask", marker=True, family="store"),
        Scenario("GET /store/<name>/<id>", "wrk", "store", "/store/bench_item/{item_id}",
                 ceiling="ceiling: bare Flask", family="store"),
        Scenario("GET /store/<name> (100 items)", "wrk", "store", "/store/bench_list",
                 ceiling="ceiling: bare Flask", family="store"),
        Scenario("POST /kv/<key> 1 KiB", "wrk", "kv", "/kv/bench/post", "POST", KV_VALUE,
                 {"Content-Type": "text/plain"}, ceiling="ceiling: bare Flask", family="kv"),
        Scenario("GET /kv/<key> 1 KiB", "wrk", "kv", "/kv/bench/get", ceiling="ceiling: bare Flask", family="kv"),
        Scenario("GET /render/hello.html?name=x", "wrk", "render", "/render/hello.html?name=x",
                 ceiling="ceiling: bare Flask", family="render"),
        Scenario(f"ceiling: nginx static {human(file_size)}", "wrk", "gateway", "/static/{static_name}",
                 connections=4, is_ceiling=True, file_scenario=True),
        Scenario(f"GET /fs/<path> {human(file_size)}", "wrk", "fs", "/fs/bench/download.bin", connections=4,
                 ceiling=f"ceiling: nginx static {human(file_size)}", file_scenario=True, family="fs"),
        Scenario("ceiling: nginx static Range 64 KiB", "wrk", "gateway", "/static/{static_name}",
                 headers=range_header, is_ceiling=True, file_scenario=True),
        Scenario("GET /fs/<path> Range 64 KiB", "wrk", "fs", "/fs/bench/download.bin", headers=range_header,
                 ceiling="ceiling: nginx static Range 64 KiB", file_scenario=True, family="fs"),
        Scenario(f"ceiling: dd {human(big_size)} conv=fsync", "dd", "fs", size=big_size, is_ceiling=True,
                 file_scenario=True),
        Scenario(f"upload {human(file_size)} multipart (curl -F)", "upload", "fs", "/fs/bench/upload-multipart.bin",
                 upload="multipart", size=file_size, ceiling=f"ceiling: dd {human(big_size)} conv=fsync",
                 file_scenario=True, family="fs"),
        Scenario(f"upload {human(file_size)} PUT (curl -T)", "upload", "fs", "/fs/bench/upload-put.bin",
                 upload="put", size=file_size, ceiling=f"ceiling: dd {human(big_size)} conv=fsync",
                 file_scenario=True, family="fs"),
        Scenario(f"upload {human(big_size)} multipart (curl -F)", "upload", "fs", "/fs/bench/big-multipart.bin",
                 upload="multipart", size=big_size, ceiling=f"ceiling: dd {human(big_size)} conv=fsync",
                 file_scenario=True, family="fs"),
        Scenario(f"upload {human(big_size)} PUT (curl -T)", "upload", "fs", "/fs/bench/big-put.bin",
                 upload="put", size=big_size, ceiling=f"ceiling: dd {human(big_size)} conv=fsync",
                 file_scenario=True, family="fs"),
    ]


def human(size: int) -> str:
    return f"{size // (1 << 30)} GiB" if size >= 1 << 30 and size % (1 << 30) == 0 else f"{size // MiB} MiB"


def make_file(path: Path, size: int) -> Path:
    """A file of random-looking bytes (a random MiB repeated), made once per size."""
    if path.exists() and path.stat().st_size == size:
        return path
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        written = 0
        while written < size:
            chunk = block[:min(MiB, size - written)]
            f.write(chunk)
            written += len(chunk)
    return path


# ---- the runner ----------------------------------------------------------------------------------

class Bench:
    def __init__(self, target: Target, args: argparse.Namespace):
        self.target = target
        self.args = args
        self.sampler = Sampler(target.groups)
        self.values: dict[str, str] = {}
        self.results: dict[str, list[Measure]] = {}
        self.skipped: dict[str, str] = {}
        self.run_marker = f"r{os.getpid()}x{int(time.time())}"
        self.acked_ids: list[int] = []
        self.wrk_runs = 0
        self.marker_runs = 0  # wrk runs of the marked POST: each may leave one write per connection unread
        self.checks: list[tuple[str, bool, str]] = []
        self.info: dict[str, str] = {}
        self.profiles: dict[str, dict] = {}

    # -- set-up --
    def prepare(self, plan: list[Scenario]) -> None:
        work = self.target.work
        sizes = {s.size for s in plan if s.kind == "upload"}
        file_size = self.args.file_size
        self.values["static_name"] = f"hipflask-bench-{human(file_size).replace(' ', '')}.bin"
        download = make_file(work / "download.bin", file_size)
        if any("{static_name}" in s.path for s in plan):
            self.target.put_static(download, self.values["static_name"])
        self.upload_sources = {size: make_file(work / f"upload-{size}.bin", size) for size in sizes}
        families = {s.family for s in plan if s.family}
        for family in sorted(families):
            reason = self.family_down(family)
            if reason:
                self.skipped[family] = reason
                log(f"{family}: {reason}; its scenarios are skipped")
        if "store" not in self.skipped:
            self.seed_store()
        if "kv" not in self.skipped:
            status, _, body = http_request(f"{self.target.url}/kv/bench/get", "POST", KV_VALUE,
                                           {"Content-Type": "text/plain"})
            if status != 200:
                self.skipped["kv"] = f"seeding POST /kv/bench/get answered {status} {body[:200]!r}"
        if "fs" not in self.skipped and any(s.path == "/fs/bench/download.bin" for s in plan):
            status = self.curl_upload(download, "/fs/bench/download.bin", "put")[0]
            if status != 200:
                self.skipped["fs"] = f"seeding PUT /fs/bench/download.bin answered {status}"

    def family_down(self, family: str) -> str:
        probe = {"diagnostic": "/diagnostic", "store": "/store/bench_probe", "kv": "/kv/bench/probe",
                 "fs": "/fs/bench/probe", "render": "/render/hello.html"}[family]
        try:
            status, _, body = http_request(self.target.url + probe, timeout=5)
        except OSError as exc:
            return f"GET {probe} failed: {exc}"
        if status >= 500:  # the gateway's 502: the service is not there (a 404 is an answer)
            return f"GET {probe} answered {status} {body[:160]!r}"
        return ""

    def seed_store(self) -> None:
        url = self.target.url
        status, _, body = http_request(f"{url}/store/bench_item", "POST", STORE_BODY, {"Content-Type": "application/json"})
        if status != 200:
            self.skipped["store"] = f"seeding POST /store/bench_item answered {status} {body[:200]!r}"
            return
        self.values["item_id"] = str(json.loads(body)["id"])
        items = self.list_items("/store/bench_list")
        for _ in range(100 - len(items)):
            status, _, body = http_request(f"{url}/store/bench_list", "POST", STORE_BODY,
                                           {"Content-Type": "application/json"})
            if status != 200:
                self.skipped["store"] = f"seeding POST /store/bench_list answered {status}"
                return
        items = self.list_items("/store/bench_list")
        if len(items) != 100:
            self.skipped["store"] = f"GET /store/bench_list gave {len(items)} items after seeding 100"

    def list_items(self, path: str) -> list[dict]:
        """Every item of a store list, following `Link: <...>; rel="next"` pages if the store pages."""
        items, url = [], f"{self.target.url}{path}"
        while url:
            status, headers, body = http_request(url, timeout=60)
            if status == 404:
                return items
            if status != 200:
                raise RuntimeError(f"GET {url} answered {status}")
            page = json.loads(body)
            items.extend(page if isinstance(page, list) else page.get("items") or page.get("data") or [])
            link = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', headers.get("link", ""))
            url = urllib.parse.urljoin(url, link.group(1)) if link else None
        return items

    # -- one run of a scenario --
    def wrk(self, scenario: Scenario, duration: float, ids_file: Path | None = None) -> Measure:
        path = scenario.path.format(**self.values)
        env = dict(os.environ, BENCH_METHOD=scenario.method,
                   BENCH_HEADERS="\n".join(f"{k}: {v}" for k, v in scenario.headers.items()))
        if scenario.body is not None:
            body_file = self.target.work / f"body-{abs(hash(scenario.name))}.bin"
            body_file.write_bytes(scenario.body)
            env["BENCH_BODY_FILE"] = str(body_file)
        if scenario.marker:
            self.wrk_runs += 1
            env["BENCH_MARKER"] = f"{self.run_marker}-{self.wrk_runs}"  # wrk's counters restart each run
        if ids_file is not None:
            env["BENCH_IDS_FILE"] = str(ids_file)
        argv = ["wrk", "-t", str(self.args.threads), "-c", str(scenario.connections), "-d", f"{max(1, round(duration))}s",
                "--timeout", "30s" if scenario.file_scenario else "10s", "-s", str(WRK_SCRIPT),
                self.target.url + path]
        out = subprocess.run(argv, env=env, capture_output=True, text=True)
        line = next((l for l in out.stdout.splitlines() if l.startswith("BENCH-JSON ")), None)
        if out.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}")
        data = json.loads(line[len("BENCH-JSON "):])
        seconds = data["duration_us"] / 1e6
        errors = data["connect"] + data["read"] + data["write"] + data["status"] + data["timeout"]
        detail = ", ".join(f"{k} {data[k]}" for k in ("connect", "read", "write", "status", "timeout") if data[k])
        return Measure(rps=data["requests"] / seconds, mbps=data["bytes"] / seconds / 1e6,
                       p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000, errors=errors,
                       requests=data["requests"], detail=detail)

    def curl_upload(self, source: Path, path: str, how: str) -> tuple[int, float]:
        argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-H", "Expect:"]
        argv += ["-F", f"file=@{source}"] if how == "multipart" else ["-T", str(source)]
        out = subprocess.run(argv + [self.target.url + path], capture_output=True, text=True)
        try:
            status, seconds = out.stdout.split()
            return int(status), float(seconds)
        except ValueError:
            return 0, 0.0

    def upload(self, scenario: Scenario) -> Measure:
        source = self.upload_sources[scenario.size]
        with contextlib.suppress(OSError):
            http_request(self.target.url + scenario.path, "DELETE")
        before = self.sampler.sample().get("fs", 0)
        interval, self.sampler.interval = self.sampler.interval, 0.02
        try:
            status, seconds = self.curl_upload(source, scenario.path, scenario.upload)
        finally:
            self.sampler.interval = interval
        peak = self.sampler.end_window().get("fs", 0)
        with contextlib.suppress(OSError):
            http_request(self.target.url + scenario.path, "DELETE")
        ok = 200 <= status < 400
        return Measure(rps=1 / seconds if seconds else 0, mbps=scenario.size / seconds / 1e6 if seconds else 0,
                       p50_ms=seconds * 1000, p99_ms=seconds * 1000, errors=0 if ok else 1, requests=1,
                       mem_growth=max(0, peak - before) if before else 0,
                       detail="" if ok else f"status {status}")

    def dd(self, scenario: Scenario) -> Measure:
        seconds, where = self.target.dd(scenario.size // MiB)
        self.info["dd"] = where
        return Measure(rps=1 / seconds, mbps=scenario.size / seconds / 1e6, p50_ms=seconds * 1000,
                       p99_ms=seconds * 1000, requests=1)

    def measure(self, scenario: Scenario, duration: float, ids_file: Path | None = None) -> Measure:
        self.sampler.start_window()
        cpu_before = self.sampler.cpu()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        if scenario.kind == "wrk":
            result = self.wrk(scenario, duration, ids_file)
        elif scenario.kind == "upload":
            result = self.upload(scenario)
        else:
            result = self.dd(scenario)
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_after = self.sampler.cpu()
        result.peaks = self.sampler.end_window()
        if result.requests:
            spent = {name: cpu_after[name] - cpu_before.get(name, cpu_after[name]) for name in cpu_after}
            spent["client"] = (children_after.ru_utime + children_after.ru_stime
                               - children_before.ru_utime - children_before.ru_stime)
            result.cpu_us = {name: seconds / result.requests * 1e6 for name, seconds in spent.items()}
        return result

    def run(self, plan: list[Scenario]) -> None:
        self.info["load"] = "load average {:.1f} at the start".format(os.getloadavg()[0])
        self.sampler.start()
        self.prepare(plan)
        active = [s for s in plan if s.family not in self.skipped]
        for scenario in plan:
            if scenario.family in self.skipped:
                self.skipped[scenario.name] = self.skipped[scenario.family]
        ids_dir = self.target.work / "ids"
        ids_dir.mkdir(exist_ok=True)
        if self.args.warmup > 0:
            log(f"warming up ({self.args.warmup:g} s per request scenario)")
            for scenario in active:
                if scenario.kind == "wrk":
                    ids_file = ids_dir / f"warmup-{abs(hash(scenario.name))}" if scenario.marker else None
                    self.measure(scenario, self.args.warmup, ids_file)
                    if ids_file:
                        self.collect_ids(ids_file)
        for round_number in range(1, self.args.runs + 1):
            log(f"run {round_number} of {self.args.runs}")
            for scenario in active:
                ids_file = ids_dir / f"run{round_number}-{abs(hash(scenario.name))}" if scenario.marker else None
                try:
                    result = self.measure(scenario, self.args.duration, ids_file)
                except RuntimeError as exc:
                    result = Measure(errors=1, detail=str(exc)[:300])
                if ids_file:
                    self.collect_ids(ids_file)
                self.results.setdefault(scenario.name, []).append(result)
                figure = f"{result.mbps:9.1f} MB/s" if scenario.file_scenario else f"{result.rps:9.0f} req/s"
                log(f"  {scenario.name:<38} {figure}  p99 {result.p99_ms:8.2f} ms  errors {result.errors}"
                    + (f" ({result.detail})" if result.detail else ""))
        self.info["load"] += ", {:.1f} at the end of the runs".format(os.getloadavg()[0])
        if any(s.marker for s in active):
            self.verify_store_writes()
        if self.args.profile:
            self.profile(active)

    def collect_ids(self, ids_file: Path) -> None:
        self.marker_runs += 1
        if ids_file.exists():
            self.acked_ids.extend(int(line) for line in ids_file.read_text().split())

    def verify_store_writes(self) -> None:
        """Every write acknowledged with an id is in the list exactly once, with its own id."""
        items = self.list_items("/store/bench_post")
        mine = [item for item in items if str(item.get("marker", "")).startswith(self.run_marker + "-")]
        listed_ids = [item.get("id") for item in mine]
        markers = [item.get("marker") for item in mine]
        acked = self.acked_ids
        problems = []
        if len(set(acked)) != len(acked):
            problems.append(f"{len(acked) - len(set(acked))} ids were acknowledged twice")
        if len(set(listed_ids)) != len(listed_ids):
            problems.append(f"{len(listed_ids) - len(set(listed_ids))} duplicate ids in the list")
        if len(set(markers)) != len(markers):
            problems.append(f"{len(markers) - len(set(markers))} writes stored twice (same marker)")
        missing = set(acked) - set(listed_ids)
        if missing:
            problems.append(f"{len(missing)} acknowledged ids missing (e.g. {sorted(missing)[:5]})")
        # wrk stops with a request in flight on each connection: committed, never read.
        in_flight = len(mine) - len(set(acked))
        if in_flight > self.marker_runs * self.args.connections:
            problems.append(f"{in_flight} stored items were never acknowledged, more than the "
                            f"{self.marker_runs} x {self.args.connections} requests in flight when wrk stopped")
        text = (f"{len(acked)} acknowledged POST /store writes, each there exactly once with its own id "
                f"({in_flight} more stored from requests in flight when wrk stopped)" if not problems else
                f"{len(acked)} acknowledged POST /store writes: " + "; ".join(problems))
        self.checks.append(("store writes", not problems, text))
        log(text)

    # -- profiles --
    def profile(self, active: list[Scenario]) -> None:
        """py-spy --gil on each request scenario's service (every worker) while wrk runs: where the
        Python time goes, next to the service's whole CPU time per request from /proc."""
        if self.target.kind == "compose":
            log("profiles are taken on the native stack only")
            return
        py_spy = ensure_py_spy()
        rate = 100
        wanted = [s for s in active if s.kind == "wrk" and not s.file_scenario and s.service != "gateway"]
        keep = BENCH / ".profiles"
        keep.mkdir(exist_ok=True)
        for scenario in wanted:
            group = next((g for g in self.target.groups() if g.name == scenario.service), None)
            if group is None or not group.pgids:
                continue
            log(f"profiling {scenario.name}")
            out = keep / f"{re.sub(r'[^a-z0-9]+', '-', scenario.name.lower()).strip('-')}.txt"
            out.unlink(missing_ok=True)
            seconds = max(2, int(self.args.profile_seconds))
            # The group leader is the gunicorn master; --subprocesses follows its workers.
            recorder = subprocess.Popen([py_spy, "record", "--pid", str(group.pgids[0]), "--subprocesses", "--gil",
                                         "--format", "raw", "--duration", str(seconds + 2), "--rate", str(rate),
                                         "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1)
            cpu_before = self.sampler.cpu().get(scenario.service, 0.0)
            measure = self.wrk(scenario, seconds)
            cpu = self.sampler.cpu().get(scenario.service, 0.0) - cpu_before
            _, err = recorder.communicate(timeout=seconds + 60)
            if not out.exists() or not measure.requests:
                log(f"py-spy gave nothing for {scenario.name}: {err.decode(errors='replace')[-300:]}")
                continue
            summary = summarise_profile(out.read_text())
            # samples outside the wrk run (py-spy starts 1 s early, stops 1 s late) are idle anyway
            summary["python_us"] = summary["samples"] / rate / measure.requests * 1e6
            summary["cpu_us"] = cpu / measure.requests * 1e6
            summary["rps"] = measure.rps
            self.profiles[scenario.name] = summary


def ensure_py_spy() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found:
        return found
    log("installing py-spy into the virtualenv (benchmark only, never a runtime dependency)")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=True)
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"


# Who owns a sample: the innermost frame of these libraries (stdlib frames count for their caller).
LAYERS = (
    ("jinja2", re.compile(r"\(jinja2/")),
    ("redis client", re.compile(r"\(redis/")),
    ("hipflask shared library", re.compile(r"\(hipflask/")),
    ("service code (with its SQLite calls)", re.compile(r"\((store|kv|fs|render|diagnostic|ceiling_app)[/.]")),
    ("flask", re.compile(r"\(flask/")),
    ("werkzeug", re.compile(r"\(werkzeug/")),
    ("gunicorn", re.compile(r"\(gunicorn/")),
)
# Leaf frames of a thread that waits (py-spy's own idle detection misses futex waits here).
IDLE = re.compile(r"^(_worker \(concurrent/futures/thread\.py|[\w.]*select \(selectors\.py|wait \(threading\.py|"
                  r"get \(queue\.py|sleep |accept \(socket\.py|_wait_for_tstate_lock)")


def owner(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, pattern in LAYERS:
            if pattern.search(frame):
                return name
    return "stdlib and interpreter"


def summarise_profile(raw: str) -> dict:
    """Busy samples by owning library and the heaviest leaf frames, from py-spy's raw (collapsed)
    stacks: `frame;frame;... count` per line, idle waits left out."""
    by_owner: dict[str, int] = {}
    by_leaf: dict[str, int] = {}
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        if not frames or IDLE.match(frames[-1]):
            continue
        n = int(count)
        total += n
        name = owner(frames)
        by_owner[name] = by_owner.get(name, 0) + n
        by_leaf[frames[-1]] = by_leaf.get(frames[-1], 0) + n

    def pct(table):
        return [(k, round(100 * n / max(total, 1), 1)) for k, n in sorted(table.items(), key=lambda kv: -kv[1])]
    return {"samples": total, "owners": pct(by_owner), "leaves": pct(by_leaf)[:8]}


# ---- the report ----------------------------------------------------------------------------------

TARGETS = [
    # (scenario, target, check(ratio of the medians, every run's measures))
    ("GET /kv/<key> 1 KiB", "≥ 0.85 of bare Flask", lambda r, ms: r is not None and r >= 0.85),
    ("GET /store/<name>/<id>", "≥ 0.8 of bare Flask", lambda r, ms: r is not None and r >= 0.8),
    ("GET /store/<name> (100 items)", "≥ 0.5 of bare Flask", lambda r, ms: r is not None and r >= 0.5),
    ("POST /store/<name>", "≥ 0.6 of bare Flask (fsync on commit)", lambda r, ms: r is not None and r >= 0.6),
    ("GET /render/hello.html?name=x", "≥ 0.75 of bare Flask", lambda r, ms: r is not None and r >= 0.75),
    ("GET /diagnostic", "p99 ≤ 50 ms with every service up",
     lambda r, ms: statistics.median(m.p99_ms for m in ms) <= 50),
    ("GET /fs/<path> {file}", "≥ 0.9 of nginx static", lambda r, ms: r is not None and r >= 0.9),
    ("GET /fs/<path> Range 64 KiB", "≥ 0.9 of nginx static (Range)", lambda r, ms: r is not None and r >= 0.9),
    ("upload {big} multipart (curl -F)", "≥ 0.5 of dd; fs memory growth ≤ 50 MB",
     lambda r, ms: r is not None and r >= 0.5 and max(x.mem_growth for x in ms) <= 50e6),
    ("upload {big} PUT (curl -T)", "≥ 0.5 of dd; fs memory growth ≤ 50 MB",
     lambda r, ms: r is not None and r >= 0.5 and max(x.mem_growth for x in ms) <= 50e6),
]


class Report:
    def __init__(self, bench: Bench, plan: list[Scenario]):
        self.bench = bench
        self.plan = plan
        self.by_name = {s.name: s for s in plan}

    def ratio(self, scenario: Scenario) -> float | None:
        """The median over the runs of the scenario's figure over its ceiling's in the same run
        (paired: the runs are interleaved, so drift between runs cancels)."""
        if not scenario.ceiling:
            return None
        mine = self.bench.results.get(scenario.name)
        base = self.bench.results.get(scenario.ceiling)
        if not mine or not base:
            return None
        ceiling = self.by_name[scenario.ceiling]
        pairs = [self.value(scenario, m) / self.value(ceiling, c) for m, c in zip(mine, base) if self.value(ceiling, c)]
        return statistics.median(pairs) if pairs else None

    @staticmethod
    def value(scenario: Scenario, measure: Measure) -> float:
        return measure.mbps if scenario.file_scenario else measure.rps

    def stack_cpu(self, name: str) -> float | None:
        """Median CPU µs per request of every process of the stack (not the client)."""
        values = [sum(v for k, v in m.cpu_us.items() if k != "client")
                  for m in self.bench.results.get(name, []) if m.cpu_us]
        return statistics.median(values) if values else None

    def cpu_ratio(self, scenario: Scenario) -> float | None:
        if not scenario.ceiling or scenario.file_scenario:
            return None
        mine, base = self.stack_cpu(scenario.name), self.stack_cpu(scenario.ceiling)
        return base / mine if mine and base else None

    def table(self) -> str:
        rows = ["| scenario | median (min–max) | p50 ms | p99 ms | errors | ratio | vs | stack CPU µs/req | CPU ratio |",
                "|---|---:|---:|---:|---:|---:|---|---:|---:|"]
        for scenario in self.plan:
            measures = self.bench.results.get(scenario.name)
            if not measures:
                reason = self.bench.skipped.get(scenario.name, "not run")
                rows.append(f"| {scenario.name} | skipped: {reason[:80]} | | | | | | | |")
                continue
            unit = "MB/s" if scenario.file_scenario else "req/s"
            values = [m.mbps if scenario.file_scenario else m.rps for m in measures]
            fmt = "{:.0f}" if unit == "req/s" or max(values) >= 100 else "{:.1f}"
            figure = f"{fmt.format(statistics.median(values))} {unit} ({fmt.format(min(values))}–{fmt.format(max(values))})"
            errors = sum(m.errors for m in measures)
            ratio = self.ratio(scenario)
            if scenario.kind == "upload":
                growth = max(m.mem_growth for m in measures)
                figure += f", fs +{growth / MiB:.0f} MiB"
            rows.append(f"| {scenario.name} | {figure} | {statistics.median(m.p50_ms for m in measures):.2f} | "
                        f"{statistics.median(m.p99_ms for m in measures):.2f} | {errors} | "
                        f"{'' if ratio is None else f'{ratio:.2f}'} | "
                        f"{'' if not scenario.ceiling else scenario.ceiling.removeprefix('ceiling: ')} | "
                        f"{self.cell(self.stack_cpu(scenario.name) if not scenario.file_scenario else None, '{:.0f}')} | "
                        f"{self.cell(self.cpu_ratio(scenario), '{:.2f}')} |")
        return "\n".join(rows)

    @staticmethod
    def cell(value: float | None, fmt: str) -> str:
        return "" if value is None else fmt.format(value)

    def memory_table(self) -> str:
        names = []
        for scenario in self.plan:
            for m in self.bench.results.get(scenario.name, []):
                names.extend(n for n in m.peaks if n not in names)
        if not names:
            return "(no process information: the stack's processes are not visible from here)"
        order = [n for n in ("gateway", "redis", "bench-ceiling") + SERVICES if n in names]
        rows = ["| scenario | " + " | ".join(order) + " |", "|---|" + "---:|" * len(order)]
        for scenario in self.plan:
            measures = self.bench.results.get(scenario.name)
            if not measures:
                continue
            peaks = {n: max(m.peaks.get(n, 0) for m in measures) for n in order}
            rows.append(f"| {scenario.name} | " + " | ".join(f"{peaks[n] / MiB:.0f}" for n in order) + " |")
        return "\n".join(rows)

    def cpu_table(self) -> str:
        rows = ["| scenario | gateway (nginx) | service (gunicorn+Flask) | redis | client (wrk) |",
                "|---|---:|---:|---:|---:|"]
        for scenario in self.plan:
            measures = self.bench.results.get(scenario.name)
            if not measures or scenario.kind != "wrk" or scenario.file_scenario:
                continue
            def cell(name):
                values = [m.cpu_us[name] for m in measures if name in m.cpu_us]
                return f"{statistics.median(values):.0f}" if values else ""
            service = scenario.service if scenario.service != "gateway" else None
            rows.append(f"| {scenario.name} | {cell('gateway')} | {cell(service) if service else ''} | "
                        f"{cell('redis')} | {cell('client')} |")
        return "\n".join(rows)

    def targets(self) -> list[tuple[str, str, str, bool | None]]:
        out = []
        file_size, big = human(self.bench.args.file_size), human(self.bench.args.big_size)
        for name, what, check in TARGETS:
            name = name.format(file=file_size, big=big)
            scenario = self.by_name.get(name)
            measures = self.bench.results.get(name)
            if scenario is None or not measures:
                out.append((name, what, "not run", None))
                continue
            ratio = self.ratio(scenario)
            met = check(ratio, measures)
            if name == "GET /diagnostic":
                got = f"p99 {statistics.median(m.p99_ms for m in measures):.1f} ms"
            else:
                got = f"{ratio:.2f}" if ratio is not None else "no ceiling"
                if scenario.kind == "upload":
                    got += f", +{max(m.mem_growth for m in measures) / MiB:.0f} MiB"
            out.append((name, what, got, met))
        return out

    def targets_table(self) -> str:
        rows = ["| scenario | target | measured | met |", "|---|---|---|---|"]
        for name, what, got, met in self.targets():
            if met is None:
                continue
            rows.append(f"| {name} | {what} | {got} | {'n/a' if met is None else ('met' if met else '**not met**')} |")
        return "\n".join(rows)

    def profiles(self) -> str:
        if not self.bench.profiles:
            return ""
        parts = ["### Where the service's time goes (py-spy --gil while wrk runs)", "",
                 "CPU is the service's whole CPU time per request (/proc, all workers, py-spy slows it a "
                 "little); Python is the time a worker held the GIL (py-spy samples), split by the innermost "
                 "library on the stack (stdlib frames count for their caller; the service's own code includes "
                 "its SQLite and Redis calls that hold the GIL). CPU minus Python is C code that releases the "
                 "GIL: system calls (socket I/O, fsync), SQLite, Redis I/O. Raw stacks: bench/.profiles/.", "",
                 "| scenario | CPU µs/req | Python µs/req | by library | heaviest frames (% of Python) |",
                 "|---|---:|---:|---|---|"]
        for name, summary in self.bench.profiles.items():
            layers = ", ".join(f"{layer} {p:.0f}%" for layer, p in summary["owners"][:6])
            leaves = "; ".join(f"`{leaf}` {p}%" for leaf, p in summary["leaves"][:4])
            parts.append(f"| {name} | {summary['cpu_us']:.0f} | {summary['python_us']:.0f} | {layers} | {leaves} |")
        return "\n".join(parts)

    def machine(self) -> dict[str, str]:
        cpu = "unknown"
        with contextlib.suppress(OSError):
            for line in open("/proc/cpuinfo"):
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        return {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
                "nproc": str(os.cpu_count()), "cpu": cpu, "kernel": platform.release(),
                "python": f"{platform.python_version()} ({sys.executable} -> {os.path.realpath(sys.executable)})",
                "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0].strip(),
                "nginx": subprocess.run([shutil.which("nginx") or "/usr/sbin/nginx", "-v"], capture_output=True,
                                        text=True).stderr.strip() if shutil.which("nginx") or
                os.path.exists("/usr/sbin/nginx") else "n/a"}

    def settings(self) -> str:
        a = self.bench.args
        env = self.bench.args.set or []
        gunicorn = (f"WORKERS={os.environ.get('WORKERS', '2')}, THREADS={os.environ.get('THREADS', '4')}, "
                    f"gthread" + (f"; overrides: {', '.join(env)}" if env else ""))
        return (f"{a.runs} runs x {a.duration:g} s per scenario (interleaved), warm-up {a.warmup:g} s; wrk -t {a.threads} "
                f"-c {a.connections} (downloads -c 4); {gunicorn}; gateway access log "
                f"{'on' if a.access_log else 'off'}; stack: {self.bench.target.kind} ({self.bench.target.url}); "
                f"{self.bench.info.get('load', '')}")

    def text(self) -> str:
        m = self.machine()
        parts = [f"Date: {m['date']}  ",
                 f"Machine: {m['nproc']} CPUs, {m['cpu']}, Linux {m['kernel']}, Python {m['python']}, "
                 f"{m['wrk']}, {m['nginx']}  ",
                 f"Settings: {self.settings()}", "",
                 self.table(), "",
                 "Errors count every response with status >= 400 and every socket error (206 and 304 are "
                 "successes). Ratios are the median over the runs of each run's figure over its ceiling's in "
                 "the same run. Request scenarios: ratio to the bare-Flask ceiling's req/s; CPU ratio: the "
                 "ceiling's CPU per request over the scenario's, for the whole stack (gateway, services, Redis; "
                 "not wrk) from /proc, a steadier estimate than req/s when other work shares the machine; downloads: to "
                 "nginx serving the same size from the static folder on the same disk; uploads: to `dd "
                 "conv=fsync` on the fs data disk" + (f" ({self.bench.info['dd']})" if "dd" in self.bench.info else "")
                 + ". Upload rows add the fs service's memory growth during the upload (peak RSS minus the RSS "
                 "before it, sampled every 20 ms).", "",
                 "### Targets", "", self.targets_table(), ""]
        for name, ok, text in self.bench.checks:
            parts.append(f"- {name}: {'ok' if ok else 'FAILED'}: {text}")
        parts += ["", "### Peak memory (MiB, RSS summed over each service's processes, sampled every 0.2 s)", "",
                  self.memory_table(), "",
                  "### CPU per request (µs, from /proc, all processes of each service)", "", self.cpu_table(), ""]
        profile = self.profiles()
        if profile:
            parts += [profile, ""]
        return "\n".join(parts)


def write_results(text: str, label: str) -> None:
    begin, end = f"<!-- bench:{label}:begin -->", f"<!-- bench:{label}:end -->"
    block = f"{begin}\n{text}\n{end}"
    old = RESULTS.read_text() if RESULTS.exists() else (
        "# hipflask benchmark results\n\n`make bench` (bench/run.py) rewrites the generated blocks below and keeps "
        "everything else.\n\n")
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip("\n") + f"\n\n## {label} run\n\n{block}\n"
    RESULTS.write_text(new)
    log(f"wrote {RESULTS} ({label})")


# ---- main ----------------------------------------------------------------------------------------

def ensure_tools() -> None:
    missing = [tool for tool in ("wrk", "curl", "dd") if not shutil.which(tool)]
    if not missing:
        return
    packages = [{"wrk": "wrk", "curl": "curl", "dd": "coreutils"}[tool] for tool in missing]
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing {' '.join(packages)} with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "-q", "update"], env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "-q", "install", "-y", "--no-install-recommends", *packages], env=env,
                       check=True, stdout=subprocess.DEVNULL)
    else:
        sys.exit(f"bench: missing {' '.join(missing)}: run `sudo apt-get install {' '.join(packages)}` and retry")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 run x 1 s, small files; only checks for errors")
    p.add_argument("--compose", action="store_true", help="run against the compose stack")
    p.add_argument("--scale", type=int, nargs="?", const=3, default=0,
                   help="store scenarios against compose with --scale store=N (default 3), then check the writes")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per run of a request scenario")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per request scenario")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--file-size", type=int, default=100 * MiB)
    p.add_argument("--big-size", type=int, default=1 << 30)
    p.add_argument("--only", help="a regular expression: run the scenarios whose name matches (and ceilings)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="environment for the stack and the ceiling (e.g. WORKERS=3, GUNICORN_CMD_ARGS=-k sync)")
    p.add_argument("--label", help="name of this run's block in RESULTS.md (default: native, compose or scale)")
    p.add_argument("--access-log", action="store_true", help="keep the gateway's access log on")
    p.add_argument("--profile", action="store_true", help="py-spy profiles of the request scenarios")
    p.add_argument("--profile-seconds", type=float, default=8)
    p.add_argument("--var", type=Path, default=ROOT / "var", help="with HIPFLASK_URL: the stack's var dir")
    p.add_argument("--write", dest="write", action="store_true", default=None, help="write bench/RESULTS.md")
    p.add_argument("--no-write", dest="write", action="store_false")
    p.add_argument("--json", type=Path, help="also write the raw measures there")
    p.add_argument("--keep", action="store_true", help="leave the stack (and its var dir) behind")
    args = p.parse_args(argv)
    if args.quick:  # a smoke test that every scenario works, not a load test
        args.runs, args.duration, args.warmup = 1, 1.0, 0.0
        args.file_size, args.big_size = 8 * MiB, 32 * MiB
        args.connections = min(args.connections, 8)
    if args.scale:
        args.compose = True
    if args.write is None:
        args.write = not (args.quick or args.only or args.set)
    return args


def select(plan: list[Scenario], args: argparse.Namespace) -> list[Scenario]:
    if args.scale:
        plan = [s for s in plan if s.name.startswith(("ceiling: gateway", "ceiling: bare", "POST /store",
                                                      "GET /store"))]
    if args.only:
        wanted = [s for s in plan if re.search(args.only, s.name)]
        ceilings = {s.ceiling for s in wanted}
        plan = [s for s in plan if s in wanted or s.name in ceilings]
    for s in plan:
        if not s.file_scenario:
            s.connections = args.connections
    return plan


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    ensure_tools()
    overrides = dict(item.split("=", 1) for item in (args.set or []))
    url = os.environ.get("HIPFLASK_URL")
    if args.compose:
        target: Target = ComposeStack(args.scale or 1, overrides, args.access_log, args.keep)
    elif url:
        target = UrlStack(url, args.var)
    else:
        target = NativeStack(overrides, args.access_log, args.keep)
    label = args.label or ("scale" if args.scale else target.kind if target.kind != "url" else "native")
    plan = select(scenarios(args.file_size, args.big_size), args)
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    bench = Bench(target, args)
    try:
        target.start()
        # stack.py has already waited for /diagnostic before it says it is ready
        status = wait_for(f"{target.url}/diagnostic", 5 if target.kind == "native" else 90)
        if status != 200:
            log(f"GET /diagnostic answers {status}: not every service is up")
        if wait_for(f"{target.url}/_bench/flask", 30) != 200:
            raise RuntimeError("the bare-Flask ceiling (/_bench/flask) does not answer")
        bench.run(plan)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        log(f"failed: {exc}")
        return 1
    finally:
        bench.sampler.stopped.set()
        target.stop()
    report = Report(bench, plan)
    text = report.text()
    print(text)
    if args.json:
        args.json.write_text(json.dumps({name: [m.__dict__ for m in ms] for name, ms in bench.results.items()},
                                        indent=1))
    failures = [f"{name}: skipped ({reason})" for name, reason in bench.skipped.items()
                if name in report.by_name]
    errors = [f"{s.name}: {m.errors} errors {m.detail}" for s in plan for m in bench.results.get(s.name, [])
              if m.errors or not m.requests]
    failures += [f"{name}: {text}" for name, ok, text in bench.checks if not ok]
    if args.quick:
        failures += errors  # a full run reports errors in its table; --quick fails on them
    elif errors:
        log("errors (in the table):\n  " + "\n  ".join(errors))
    if args.write and not args.quick:
        write_results(text, label)
    if failures:
        log("FAILED:\n  " + "\n  ".join(failures))
        return 1
    if args.quick:
        log(f"quick: all {len(plan)} scenarios ran without errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
