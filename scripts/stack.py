#!/usr/bin/env python3
"""The native hipflask stack: Redis, every service under gunicorn, and the nginx gateway.

    stack.py run   [--port P] [--var DIR] [--debug]   foreground; Ctrl-C or SIGTERM stops all
    stack.py start [--port P] [--var DIR]             the same in the background (pid + log in var/)
    stack.py stop  [--var DIR]                        stops a background stack

Every process of the stack (Redis, each service's gunicorn, nginx) is supervised: one that exits
is restarted with a backoff, and none outlives the stack (scripts/supervisor.py). SIGHUP restarts
an exited process at once. `run` and `start` refuse to start over a running stack of the same
VAR_DIR or a taken port, saying which, before anything is spawned. Configuration comes from the
environment (README table); the stack only adds the addresses it chose.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from supervisor import Command, Supervisor

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("diagnostic", "store", "kv", "fs", "render", "events")
GATEWAY_TEMPLATE = ROOT / "gateway" / "templates" / "hipflask.conf.template"
NATIVE_TEMPLATE = ROOT / "gateway" / "nginx.native.conf.template"


def render_template(text: str, values: dict[str, str]) -> str:
    """${NAME} replaced for the names given; nginx's own $variables are left alone."""
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    return text


def find_binary(name: str, *extra: str) -> str:
    found = shutil.which(name) or next((p for p in extra if os.access(p, os.X_OK)), None)
    if not found:
        sys.exit(f"stack: {name} is not installed; run `make build` (as root it installs it with apt-get), "
                 f"or install the Debian package yourself")
    return found


def gateway_settings() -> dict[str, str]:
    """The directives gateway/settings.sh derives from the environment (the same script the
    gateway image runs), as template values."""
    result = subprocess.run(["sh", str(ROOT / "gateway" / "settings.sh")], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(result.stderr.strip() or "gateway/settings.sh failed")
    return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)


class Stack:
    def __init__(self, port: int, var: Path, debug: bool, base_port: int, redis_port: int):
        self.port = port
        self.var = var.resolve()
        self.debug = debug
        self.run_dir = self.var / "run"
        self.addresses = {name: f"127.0.0.1:{base_port + i}" for i, name in enumerate(SERVICES)}
        self.bench_address = f"127.0.0.1:{base_port + len(SERVICES)}"  # bench/ceiling_app.py, started by make bench
        self.gateway_status_address = f"127.0.0.1:{base_port + len(SERVICES) + 1}"  # stub_status, loopback only
        self.redis_port = redis_port
        self.lock_file = None
        self.supervisor: Supervisor | None = None
        self.python = Path(sys.executable)
        self.binaries: dict[str, str] = {}

    # ---- environment ---------------------------------------------------------------------------
    def service_env(self, name: str) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("REDIS_URL", f"redis://127.0.0.1:{self.redis_port}/0")
        env["DATA_DIR"] = str(self.var / "data" / name)
        env["BIND"] = self.addresses[name]
        env["PYTHONUNBUFFERED"] = "1"
        if name == "events":  # many idle streams: greenlets, one worker (README: EVENTS_WORKERS)
            env["WORKER_CLASS"] = "gevent"
            env["WORKERS"] = os.environ.get("EVENTS_WORKERS", "1")
        if not self.debug:
            env["PROMETHEUS_MULTIPROC_DIR"] = self.metrics_dir(name)
        if name == "diagnostic":
            env.setdefault("DIAGNOSTIC_TARGETS", ",".join(
                f"{other}=http://{address}" for other, address in self.addresses.items() if other != "diagnostic"))
            env["STACK_STATE_FILE"] = str(self.run_dir / "stack.json")
            env.setdefault("GATEWAY_STATUS_URL", f"http://{self.gateway_status_address}/_gateway/status")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "services" / name), env.get("PYTHONPATH")]))
        return env

    def metrics_dir(self, name: str) -> str:
        """The folder of a service's metric files (its workers' mmapped counters), wiped by its gunicorn
        master at every start. In /dev/shm (memory: a full data disk cannot break them), named after
        this VAR_DIR so restarts and a killed stack reuse it instead of leaving new ones behind."""
        shm = Path("/dev/shm")
        if not os.access(shm, os.W_OK):
            return str(self.run_dir / "metrics" / name)
        tag = hashlib.sha256(str(self.var).encode()).hexdigest()[:12]
        return str(shm / f"hipflask-metrics-{tag}-{name}")

    def gateway_values(self) -> dict[str, str]:
        env = os.environ
        values = {
            "NGINX_LOCAL_RESOLVERS": "127.0.0.1",
            "GATEWAY_LISTEN": f"{env.get('GATEWAY_HOST', '127.0.0.1')}:{self.port}",
            "GATEWAY_ACCESS_LOG": "off" if env.get("GATEWAY_ACCESS_LOG", "on") == "off"
                                  else f"/dev/stdout hipflask_{env.get('LOG_FORMAT') or 'text'}",
            "GATEWAY_STATUS_LISTEN": self.gateway_status_address,
            "MAX_BODY_SIZE": env.get("MAX_BODY_SIZE", "10m"),
            "FS_MAX_UPLOAD_SIZE": env.get("FS_MAX_UPLOAD_SIZE", "2g"),
            "GATEWAY_BODY_TIMEOUT": env.get("GATEWAY_BODY_TIMEOUT", "30s"),
            "FS_DATA_DIR": str(self.var / "data" / "fs"),
            "STATIC_DIR": str(Path(env.get("STATIC_DIR", ROOT / "static")).resolve()),
            "STATIC_MAX_AGE": env.get("STATIC_MAX_AGE", "1h"),
            "GATEWAY_WORKERS": env.get("GATEWAY_WORKERS", "auto"),
            "GATEWAY_ERROR_LOG_LEVEL": env.get("GATEWAY_ERROR_LOG_LEVEL", "warn"),
            "RUN_DIR": str(self.run_dir),
            "NGINX_MIME_TYPES": "/etc/nginx/mime.types",
            "NGINX_USER_DIRECTIVE": "user root;" if os.geteuid() == 0 else "",
            "GATEWAY_SERVER_CONF": str(self.run_dir / "hipflask.conf"),
            "GATEWAY_SNIPPETS": str(ROOT / "gateway" / "snippets"),
            "GATEWAY_MEMO_SOCKET": str(self.memo_socket),
            "GATEWAY_MEMO_CACHE": str(self.run_dir / "nginx-fs-memo"),
            "CORS_ORIGINS": env.get("CORS_ORIGINS", ""),
            "CORS_MAX_AGE": env.get("CORS_MAX_AGE", "600"),
            "RATE_LIMIT": env.get("RATE_LIMIT", "off") or "off",
            "UPLOAD_CONNECTIONS": env.get("UPLOAD_CONNECTIONS", "0") or "0",
            **gateway_settings(),
        }
        for name, address in self.addresses.items():
            values[f"{name.upper()}_BACKEND"] = f"hipflask_{name}"
            values[f"{name.upper()}_ADDR"] = address
        values["BENCH_BACKEND"] = "hipflask_bench"
        values["BENCH_ADDR"] = self.bench_address
        values["BENCH_BEST_BACKEND"] = "hipflask_bench_best"
        values["BENCH_BEST_SOCKET"] = str(self.run_dir / "bench-flask-best.sock")  # bench/run.py's best ceiling
        return values

    # ---- programs ---------------------------------------------------------------------------------
    def redis_command(self, restarts: int) -> tuple[list[str], None]:
        return [self.binaries["redis-server"], "--port", str(self.redis_port), "--bind", "127.0.0.1",
                "--dir", str(self.var / "redis"), "--appendonly", "yes", "--appendfsync", "everysec",
                "--save", "", "--protected-mode", "yes", "--daemonize", "no"], None

    def service_command(self, name: str) -> Command:
        def command(restarts: int) -> tuple[list[str], dict[str, str]]:
            env = self.service_env(name)
            env["HIPFLASK_RESTARTS"] = str(restarts)
            self.write_prometheus_targets()
            if self.debug:
                host, port = self.addresses[name].split(":")
                env["FLASK_DEBUG"] = "1"
                return [str(self.python), "-m", "flask", "--app", f"{name}.wsgi:build()", "run",
                        "--debug", "--reload", "--host", host, "--port", port,
                        "--extra-files", str(ROOT / "services" / name / "handlers")], env
            return [str(self.python), "-m", "gunicorn", "-c", "python:hipflask.gunicorn_conf",
                    "--pid", str(self.run_dir / f"{name}.gunicorn.pid"), f"{name}.wsgi:build()"], env
        return command

    @property
    def memo_socket(self) -> Path:
        """The gateway's own socket for the download memo's second hop (gateway/templates/hipflask.conf.template)."""
        return self.run_dir / "gateway-memo.sock"

    def gateway_command(self, restarts: int) -> tuple[list[str], None]:
        self.memo_socket.unlink(missing_ok=True)  # left behind by a killed nginx, it would stop the start
        return [self.binaries["nginx"], "-p", str(self.run_dir), "-e", "stderr",
                "-c", str(self.run_dir / "nginx.conf")], None

    def write_prometheus_targets(self) -> None:
        """$VAR_DIR/run/prometheus/targets.json: every service's metrics address (Prometheus file_sd),
        rewritten whenever a service starts, replaced atomically so Prometheus never reads half a file."""
        folder = self.run_dir / "prometheus"
        folder.mkdir(parents=True, exist_ok=True)
        targets = [{"targets": [address], "labels": {"service": name}} for name, address in self.addresses.items()]
        temporary = folder / "targets.json.tmp"
        temporary.write_text(json.dumps(targets, indent=1) + "\n")
        os.replace(temporary, folder / "targets.json")

    def write_gateway_config(self) -> None:
        values = self.gateway_values()
        (self.run_dir / "hipflask.conf").write_text(render_template(GATEWAY_TEMPLATE.read_text(), values))
        (self.run_dir / "nginx.conf").write_text(render_template(NATIVE_TEMPLATE.read_text(), values))

    # ---- before anything starts ---------------------------------------------------------------------
    def ports(self) -> list[tuple[str, str, int]]:
        """(what, host, port) for every port the stack listens on."""
        ports = [("gateway", os.environ.get("GATEWAY_HOST", "127.0.0.1"), self.port),
                 ("redis", "127.0.0.1", self.redis_port)]
        for name, address in {**self.addresses, "gateway status": self.gateway_status_address}.items():
            host, port = address.rsplit(":", 1)
            ports.append((name, host, int(port)))
        return ports

    def refusal(self) -> str | None:
        """Why this stack cannot start (another stack on this VAR_DIR, a port taken), or None.
        On None the run lock is held for this process's lifetime."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        lock = open(self.run_dir / "stack.lock", "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "unknown"
            lock.close()
            return f"stack: a stack is already running for {self.var} (pid {holder})"
        taken = [f"stack: port {port} is taken ({what})"
                 for what, host, port in self.ports() if not port_free(host, port)]
        if taken:
            lock.close()
            return "\n".join(taken)
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        self.lock_file = lock
        return None

    # ---- running ----------------------------------------------------------------------------------
    def announce_when_ready(self, timeout: float) -> None:
        mode = "DEBUG MODE: Flask's debug server with code reloading; not for production. " if self.debug else ""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/diagnostic"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        self.supervisor.say("stack", f"{mode}hipflask is up at http://127.0.0.1:{self.port}")
                        (self.run_dir / "stack.ready").write_text(str(os.getpid()))
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.supervisor.say("stack", f"{mode}hipflask did not become ready; see the logs above")
        (self.run_dir / "stack.ready").write_text(str(os.getpid()))

    def run(self) -> int:
        refusal = self.refusal()
        if refusal:
            print(refusal, file=sys.stderr)
            return 1
        self.binaries = {"redis-server": find_binary("redis-server"), "nginx": find_binary("nginx", "/usr/sbin/nginx")}
        for name in SERVICES:
            (self.var / "data" / name).mkdir(parents=True, exist_ok=True)
        (self.var / "redis").mkdir(parents=True, exist_ok=True)
        for stale in (*self.run_dir.glob("*.hold"), self.run_dir / "stack.ready"):
            stale.unlink(missing_ok=True)
        self.write_gateway_config()
        hangup = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        signal.signal(signal.SIGHUP, lambda *_: hangup.set())
        self.supervisor = Supervisor(self.run_dir)
        try:
            self.supervisor.add("redis", self.redis_command, ROOT)
            for name in SERVICES:
                self.supervisor.add(name, self.service_command(name), ROOT)
            self.supervisor.add("gateway", self.gateway_command, ROOT)
            threading.Thread(target=self.announce_when_ready, args=(90,), daemon=True).start()
            while True:  # children are started from this thread: PR_SET_PDEATHSIG follows the thread
                if hangup.is_set():
                    hangup.clear()
                    self.supervisor.restart_now()
                self.supervisor.tick()
                time.sleep(0.1)
        except (KeyboardInterrupt, SystemExit):
            return 0
        finally:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            self.supervisor.stop()
            (self.run_dir / "stack.ready").unlink(missing_ok=True)


def port_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (a port in TIME_WAIT counts as free, as it does for
    nginx, gunicorn and Redis, which all bind with SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
            return True
        except OSError:
            return False


def stop_background(var: Path) -> int:
    pid_file = var / "run" / "stack.pid"
    if not pid_file.exists():
        print("stack: no native stack is running (no var/run/stack.pid)")
        return 0
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    pid_file.unlink(missing_ok=True)
    print("stack: stopped")
    return 0


def start_background(stack: Stack, args: argparse.Namespace) -> int:
    refusal = stack.refusal()
    if refusal:
        print(refusal, file=sys.stderr)
        return 1
    stack.lock_file.close()  # the background stack takes the lock itself
    log = stack.var / "log" / "stack.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, __file__, "run", "--port", str(args.port), "--var", str(args.var),
            "--base-port", str(args.base_port), "--redis-port", str(args.redis_port)]
    with open(log, "ab") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    (stack.run_dir / "stack.pid").write_text(str(process.pid))
    ready = stack.run_dir / "stack.ready"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if ready.exists() and ready.read_text() == str(process.pid):
            print(f"stack: started in the background (pid {process.pid}, log {log}) at http://127.0.0.1:{args.port}")
            return 0
        time.sleep(0.2)
    print(f"stack: did not start; see {log}")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("run", "start", "stop"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8080)))
    parser.add_argument("--var", type=Path, default=Path(os.environ.get("VAR_DIR", ROOT / "var")))
    parser.add_argument("--base-port", type=int, default=int(os.environ.get("SERVICE_BASE_PORT", 8101)))
    parser.add_argument("--redis-port", type=int, default=int(os.environ.get("REDIS_PORT", 6390)))
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "stop":
        return stop_background(args.var.resolve())
    stack = Stack(args.port, args.var, args.debug, args.base_port, args.redis_port)
    if args.command == "start":
        return start_background(stack, args)
    return stack.run()


if __name__ == "__main__":
    sys.exit(main())
