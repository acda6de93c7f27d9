"""The stacks the system tests talk to, through the gateway only: native and compose.

`stack` is parametrized, so every system test runs once against each. Both are started with the
same environment (STACK_ENV) and both offer the same controls: kill a service with SIGKILL,
start it again, and wait until the gateway routes to it.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests

from support import docker_available, free_port, free_port_run, missing, wait_until

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("diagnostic", "store", "kv", "fs", "render")
STACK_ENV = {
    "RENDER_TOKEN": "test-token",
    "MAX_BODY_SIZE": "1m",
    "FS_MAX_UPLOAD_SIZE": "64m",
    "LOCAL_EVENT_SOURCES": "*",
    "LOG_LEVEL": "INFO",
}


class Stack:
    kind = ""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(STACK_ENV)

    def healthy(self) -> bool:
        return requests.get(f"{self.url}/diagnostic", timeout=5).status_code == 200

    def wait_healthy(self, timeout: float = 90) -> None:
        wait_until(self.healthy, timeout, f"{self.kind} stack to answer /diagnostic with 200")

    def wait_routes(self, service: str, timeout: float = 60) -> None:
        """Until the gateway reaches the service again (its /diagnostic check passes)."""
        def routed():
            body = requests.get(f"{self.url}/diagnostic", timeout=5).json()
            return body["checks"][service]["status"] == "ok" and self.healthy()
        wait_until(routed, timeout, f"the gateway to reach {service} again")


class NativeStack(Stack):
    kind = "native"

    def __enter__(self):
        for binary in ("redis-server", "nginx"):
            if not shutil.which(binary) and not os.path.exists(f"/usr/sbin/{binary}"):
                missing(f"{binary} is not installed (make build installs it)")
        self.var = Path(tempfile.mkdtemp(prefix="hipflask-native-"))
        self.log = open(self.var / "stack.log", "wb")
        self.static = self.var / "static"
        self.static.mkdir()
        env = {**os.environ, **self.env, "STATIC_DIR": str(self.static)}
        env.pop("VAR_DIR", None)
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "stack.py"), "run", "--port", str(self.port),
             "--var", str(self.var), "--base-port", str(free_port_run(6)), "--redis-port", str(free_port())],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self.wait_healthy()
        except AssertionError:
            log = (self.var / "stack.log").read_text()[-4000:]
            self.__exit__()
            raise AssertionError(f"native stack did not start:\n{log}")
        return self

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.var, ignore_errors=True)

    def kill(self, service: str) -> None:
        pgid = int((self.var / "run" / f"{service}.pgid").read_text())
        os.killpg(pgid, signal.SIGKILL)
        wait_until(lambda: self._gone(pgid), 10, f"{service} to die")

    @staticmethod
    def _gone(pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
            return False
        except ProcessLookupError:
            return True

    def start(self, service: str) -> None:
        self.process.send_signal(signal.SIGHUP)
        self.wait_routes(service)

    def data_dir(self, service: str) -> Path:
        return self.var / "data" / service

    def put_static(self, name: str, data: bytes) -> None:
        (self.static / name).write_bytes(data)


class ComposeStack(Stack):
    kind = "compose"

    def __init__(self):
        super().__init__()
        self.project = f"hipflask-test-{os.getpid()}"
        self.compose = os.environ.get("COMPOSE", "docker compose").split()

    def run(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
        env = {**os.environ, **self.env, "GATEWAY_PORT": str(self.port), "GATEWAY_BIND": "127.0.0.1"}
        result = subprocess.run([*self.compose, "-p", self.project, *args], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        return result

    def __enter__(self):
        if not docker_available():
            missing("Docker is not available for the compose stack")
        try:
            self.run("up", "-d", "--build", "--wait")
            self.wait_healthy()
        except AssertionError:
            logs = self.run("logs", "--no-color", "--tail", "60", check=False).stdout
            self.__exit__()
            raise AssertionError(f"compose stack did not start:\n{logs[-6000:]}")
        return self

    def __exit__(self, *exc):
        self.run("down", "-v", "--remove-orphans", "--timeout", "5", check=False)

    def kill(self, service: str) -> None:
        self.run("kill", "-s", "SIGKILL", service)

    def start(self, service: str) -> None:
        self.run("up", "-d", "--no-deps", "--wait", service)
        self.wait_routes(service)

    def put_static(self, name: str, data: bytes) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            path.chmod(0o644)
            self.run("cp", str(path), f"gateway:/srv/static/{name}")

    def scale(self, service: str, replicas: int) -> None:
        self.run("up", "-d", "--no-recreate", "--wait", "--scale", f"{service}={replicas}")


def pytest_collection_modifyitems(config, items):
    """Tests marked compose_only run against the compose stack alone."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        native = params.get("stack") == "native"
        (dropped if native and item.get_closest_marker("compose_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", params=["native", "compose"])
def stack(request):
    with (NativeStack() if request.param == "native" else ComposeStack()) as running:
        yield running


@pytest.fixture
def gateway(stack) -> str:
    return stack.url
