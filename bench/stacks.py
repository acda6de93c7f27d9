"""The stacks under test: native, compose or one someone else runs, and how to reach them."""
from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from console import log
from layout import BENCH, ROOT, SERVICES
from processes import Group


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


def best_workers() -> int:
    """Issue 19's best settings for a sync gunicorn: 2 x cores + 1 workers."""
    return 2 * len(os.sched_getaffinity(0)) + 1


def start_best_ceiling(env: dict[str, str], socket_path: Path, log_path: Path) -> subprocess.Popen:
    """bench/ceiling_app.py under its best settings (2 x cores + 1 sync workers on a unix socket,
    gunicorn's defaults otherwise, none of hipflask's), in its own process group."""
    env = {k: v for k, v in env.items() if k != "GUNICORN_CMD_ARGS"}
    with open(log_path, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--worker-class", "sync", "--workers", str(best_workers()),
             "--bind", f"unix:{socket_path}", "--pythonpath", str(BENCH), "ceiling_app:app"],
            env=dict(env, PYTHONUNBUFFERED="1"), cwd=BENCH, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True)


def stop_process_group(process: subprocess.Popen | None) -> None:
    if process is None:
        return
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


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
        self.base = free_port_range(len(SERVICES) + 2)  # services, the ceiling app, the gateway status
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
        self.best_ceiling: subprocess.Popen | None = None
        self.log_path = self.var / "stack.log"

    def start(self) -> None:
        last = self.base + len(SERVICES) - 1
        log(f"starting the native stack at {self.url} (var {self.var}, services on {self.base}..{last})")
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
        # the socket scripts/stack.py names in the gateway's hipflask_bench_best upstream
        self.best_ceiling = start_best_ceiling(self.env, self.var / "run" / "bench-flask-best.sock",
                                               self.var / "ceiling-best.log")

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
        if self.stack is not None:
            groups.append(Group("stack.py", pgids=[self.stack.pid]))
        if self.ceiling is not None:
            groups.append(Group("bench-ceiling", pgids=[self.ceiling.pid]))
        if self.best_ceiling is not None:
            groups.append(Group("bench-ceiling-best", pgids=[self.best_ceiling.pid]))
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
        processes = (self.best_ceiling, self.ceiling, self.stack)
        for process in processes:
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            stop_process_group(process)
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
        self.best_ceiling: subprocess.Popen | None = None
        self.placed: list[Path] = []

    def start(self) -> None:
        nginx_conf = self.var / "run" / "nginx.conf"
        text = nginx_conf.read_text() if nginx_conf.exists() else ""
        if wait_for(f"{self.url}/_bench/flask", 2) != 200:
            found = re.search(r"upstream hipflask_bench\s*\{\s*server (\S+);", text)
            if not found:
                raise RuntimeError(f"{self.url}/_bench/flask does not answer and {nginx_conf} names no bench "
                                   f"upstream: start bench/ceiling_app.py there yourself")
            log(f"starting the bare-Flask ceiling at {found.group(1)}")
            self.ceiling = start_ceiling(dict(os.environ), found.group(1), self.work / "ceiling.log")
        if wait_for(f"{self.url}/_bench/flask-best", 2) != 200:
            best = re.search(r"upstream hipflask_bench_best\s*\{\s*server unix:(\S+);", text)
            if not best:
                raise RuntimeError(f"{self.url}/_bench/flask-best does not answer and {nginx_conf} names no "
                                   f"hipflask_bench_best upstream")
            log(f"starting the best-settings bare-Flask ceiling at unix:{best.group(1)}")
            self.best_ceiling = start_best_ceiling(dict(os.environ), Path(best.group(1)),
                                                   self.work / "ceiling-best.log")

    def groups(self) -> list[Group]:
        groups = []
        for name in ("gateway", "redis") + SERVICES:
            with contextlib.suppress(OSError, ValueError):
                groups.append(Group(name, pgids=[int((self.var / "run" / f"{name}.pgid").read_text())]))
        if self.ceiling is not None:
            groups.append(Group("bench-ceiling", pgids=[self.ceiling.pid]))
        if self.best_ceiling is not None:
            groups.append(Group("bench-ceiling-best", pgids=[self.best_ceiling.pid]))
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
        stop_process_group(self.ceiling)
        stop_process_group(self.best_ceiling)
        shutil.rmtree(self.work, ignore_errors=True)
