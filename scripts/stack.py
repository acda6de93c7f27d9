#!/usr/bin/env python3
"""The native hipflask stack: Redis, every service under gunicorn, and the nginx gateway.

    stack.py run   [--port P] [--var DIR] [--debug]   foreground; Ctrl-C or SIGTERM stops all
    stack.py start [--port P] [--var DIR]             the same in the background (pid + log in var/)
    stack.py stop  [--var DIR]                        stops a background stack

While running, SIGHUP to the stack process starts again any service that has exited (the system
tests kill a service with SIGKILL, then ask for it back). Configuration comes from the
environment (README table); the stack only adds the addresses it chose.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("diagnostic", "store", "kv", "fs", "render")
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


class Stack:
    def __init__(self, port: int, var: Path, debug: bool, base_port: int, redis_port: int):
        self.port = port
        self.var = var.resolve()
        self.debug = debug
        self.run_dir = self.var / "run"
        self.addresses = {name: f"127.0.0.1:{base_port + i}" for i, name in enumerate(SERVICES)}
        self.bench_address = f"127.0.0.1:{base_port + len(SERVICES)}"  # bench/ceiling_app.py, started by make bench
        self.redis_port = redis_port
        self.processes: dict[str, subprocess.Popen] = {}
        self.stopping = False
        self.lock = threading.Lock()
        self.python = Path(sys.executable)

    # ---- environment ---------------------------------------------------------------------------
    def service_env(self, name: str) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("REDIS_URL", f"redis://127.0.0.1:{self.redis_port}/0")
        env["DATA_DIR"] = str(self.var / "data" / name)
        env["BIND"] = self.addresses[name]
        env["PYTHONUNBUFFERED"] = "1"
        if name == "diagnostic":
            env.setdefault("DIAGNOSTIC_TARGETS", ",".join(
                f"{other}=http://{address}" for other, address in self.addresses.items() if other != "diagnostic"))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "services" / name), env.get("PYTHONPATH")]))
        return env

    def gateway_values(self) -> dict[str, str]:
        env = os.environ
        values = {
            "NGINX_LOCAL_RESOLVERS": "127.0.0.1",
            "GATEWAY_LISTEN": f"{env.get('GATEWAY_HOST', '127.0.0.1')}:{self.port}",
            "GATEWAY_ACCESS_LOG": "off" if env.get("GATEWAY_ACCESS_LOG", "on") == "off" else "/dev/stdout hipflask",
            "MAX_BODY_SIZE": env.get("MAX_BODY_SIZE", "10m"),
            "FS_MAX_UPLOAD_SIZE": env.get("FS_MAX_UPLOAD_SIZE", "2g"),
            "FS_DATA_DIR": str(self.var / "data" / "fs"),
            "STATIC_DIR": str(Path(env.get("STATIC_DIR", ROOT / "static")).resolve()),
            "STATIC_MAX_AGE": env.get("STATIC_MAX_AGE", "1h"),
            "GATEWAY_WORKERS": env.get("GATEWAY_WORKERS", "auto"),
            "GATEWAY_ERROR_LOG_LEVEL": env.get("GATEWAY_ERROR_LOG_LEVEL", "warn"),
            "RUN_DIR": str(self.run_dir),
            "NGINX_MIME_TYPES": "/etc/nginx/mime.types",
            "NGINX_USER_DIRECTIVE": "user root;" if os.geteuid() == 0 else "",
            "GATEWAY_SERVER_CONF": str(self.run_dir / "hipflask.conf"),
        }
        for name, address in self.addresses.items():
            values[f"{name.upper()}_BACKEND"] = f"hipflask_{name}"
            values[f"{name.upper()}_ADDR"] = address
        values["BENCH_BACKEND"] = "hipflask_bench"
        values["BENCH_ADDR"] = self.bench_address
        return values

    # ---- processes -------------------------------------------------------------------------------
    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> None:
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        (self.run_dir / f"{name}.pgid").write_text(str(process.pid))
        self.processes[name] = process
        threading.Thread(target=self.relay, args=(name, process), daemon=True).start()

    def relay(self, name: str, process: subprocess.Popen) -> None:
        prefix = f"{name:<10}| ".encode()
        for line in process.stdout:
            sys.stdout.buffer.write(prefix + line)
            sys.stdout.buffer.flush()
        code = process.wait()
        if not self.stopping:
            sys.stdout.write(f"{'stack':<10}| {name} exited with status {code}; SIGHUP the stack to start it again\n")
            sys.stdout.flush()

    def start_redis(self) -> None:
        data = self.var / "redis"
        data.mkdir(parents=True, exist_ok=True)
        redis_server = find_binary("redis-server")
        self.spawn("redis", [redis_server, "--port", str(self.redis_port), "--bind", "127.0.0.1",
                             "--dir", str(data), "--appendonly", "yes", "--appendfsync", "everysec",
                             "--save", "", "--protected-mode", "yes", "--daemonize", "no"])

    def start_service(self, name: str) -> None:
        env = self.service_env(name)
        if self.debug:
            host, port = self.addresses[name].split(":")
            env["FLASK_DEBUG"] = "1"
            argv = [str(self.python), "-m", "flask", "--app", f"{name}.wsgi:build()", "run",
                    "--debug", "--reload", "--host", host, "--port", port,
                    "--extra-files", str(ROOT / "services" / name / "handlers")]
        else:
            argv = [str(self.python), "-m", "gunicorn", "-c", "python:hipflask.gunicorn_conf",
                    "--pid", str(self.run_dir / f"{name}.gunicorn.pid"), f"{name}.wsgi:build()"]
        self.spawn(name, argv, env)

    def start_gateway(self) -> None:
        values = self.gateway_values()
        (self.run_dir / "hipflask.conf").write_text(render_template(GATEWAY_TEMPLATE.read_text(), values))
        (self.run_dir / "nginx.conf").write_text(render_template(NATIVE_TEMPLATE.read_text(), values))
        (self.var / "data" / "fs").mkdir(parents=True, exist_ok=True)
        nginx = find_binary("nginx", "/usr/sbin/nginx")
        self.spawn("gateway", [nginx, "-p", str(self.run_dir), "-e", "stderr", "-c", str(self.run_dir / "nginx.conf")])

    def start_missing(self) -> None:
        with self.lock:
            for name in SERVICES:
                process = self.processes.get(name)
                if process is None or process.poll() is not None:
                    self.start_service(name)

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}/diagnostic"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return True
            except OSError:
                pass
            if any(p.poll() is not None for n, p in self.processes.items() if n in ("redis", "gateway")):
                return False
            time.sleep(0.2)
        return False

    def stop(self) -> None:
        self.stopping = True
        for name, process in reversed(list(self.processes.items())):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 15
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    def run(self) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            (self.var / "data" / name).mkdir(parents=True, exist_ok=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=self.start_missing, daemon=True).start())
        try:
            self.start_redis()
            for name in SERVICES:
                self.start_service(name)
            self.start_gateway()
            mode = "DEBUG MODE: Flask's debug server with code reloading; not for production. " if self.debug else ""
            if self.wait_ready(timeout=90):
                print(f"{'stack':<10}| {mode}hipflask is up at http://127.0.0.1:{self.port}", flush=True)
            else:
                print(f"{'stack':<10}| {mode}hipflask did not become ready; see the logs above", flush=True)
            (self.run_dir / "stack.ready").write_text(str(os.getpid()))
            while True:
                time.sleep(3600)
        except (KeyboardInterrupt, SystemExit):
            return 0
        finally:
            self.stop()
            (self.run_dir / "stack.ready").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("run", "start", "stop"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8080)))
    parser.add_argument("--var", type=Path, default=Path(os.environ.get("VAR_DIR", ROOT / "var")))
    parser.add_argument("--base-port", type=int, default=int(os.environ.get("SERVICE_BASE_PORT", 8101)))
    parser.add_argument("--redis-port", type=int, default=int(os.environ.get("REDIS_PORT", 6390)))
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    pid_file = args.var.resolve() / "run" / "stack.pid"
    if args.command == "stop":
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
    if args.command == "start":
        log = args.var.resolve() / "log" / "stack.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        pid_file.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, __file__, "run", "--port", str(args.port), "--var", str(args.var),
                "--base-port", str(args.base_port), "--redis-port", str(args.redis_port)]
        with open(log, "ab") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        pid_file.write_text(str(process.pid))
        ready = args.var.resolve() / "run" / "stack.ready"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if ready.exists() and ready.read_text() == str(process.pid):
                print(f"stack: started in the background (pid {process.pid}, log {log}) at http://127.0.0.1:{args.port}")
                return 0
            time.sleep(0.2)
        print(f"stack: did not start; see {log}")
        return 1
    return Stack(args.port, args.var, args.debug, args.base_port, args.redis_port).run()


if __name__ == "__main__":
    sys.exit(main())
