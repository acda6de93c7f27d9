"""The stacks the system and fault tiers talk to, through the gateway: native, compose and swarm.

All are started with the same environment (STACK_ENV plus a tier's own) and offer the same
controls: `kill` a service with SIGKILL and keep it down (as an operator's `docker compose kill`),
`start` it again and wait until the gateway routes to it, and (native and compose) `crash` a
process with SIGKILL the way the OOM killer would, after which its supervisor (the native stack's,
or Docker's restart policy) brings it back by itself.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

from support import docker_available, free_port, free_port_run, missing, wait_until

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("diagnostic", "store", "kv", "fs", "render", "events")
STACK_ENV = {
    "RENDER_TOKEN": "test-token",
    "MAX_BODY_SIZE": "1m",
    "FS_MAX_UPLOAD_SIZE": "64m",
    "LOCAL_EVENT_SOURCES": "*",
    "EVENTS_HEARTBEAT_SECONDS": "1",
    "EVENT_STREAM_MAXLEN": "1000",
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "json",
}


class Stack:
    kind = ""

    def __init__(self, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**STACK_ENV, **(env or {})}

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

    def __init__(self, env: dict[str, str] | None = None, var: Path | None = None):
        """`var`: the stack's VAR_DIR (a fresh temporary folder by default), removed at exit."""
        super().__init__(env)
        self.given_var = var
        self.killed: dict[str, int] = {}

    def service_url(self, service: str) -> str:
        """The service's own gunicorn, bypassing the gateway (for tests of the service's guards)."""
        return f"http://127.0.0.1:{self.base_port + SERVICES.index(service)}"

    def __enter__(self):
        for binary in ("redis-server", "nginx"):
            if not shutil.which(binary) and not os.path.exists(f"/usr/sbin/{binary}"):
                missing(f"{binary} is not installed (make build installs it)")
        self.var = self.given_var or Path(tempfile.mkdtemp(prefix="hipflask-native-"))
        self.log = open(self.var / "stack.log", "wb")
        self.static = self.var / "static"
        self.static.mkdir()
        # the services, the bench and the gateway's status port
        self.base_port, self.redis_port = free_port_run(len(SERVICES) + 2), free_port()
        self.process = subprocess.Popen(self.command(), env=self.process_env(), stdout=self.log,
                                        stderr=subprocess.STDOUT)
        try:
            self.wait_healthy()
        except AssertionError as exc:
            log = (self.var / "stack.log").read_text()[-4000:]
            self.__exit__()
            raise AssertionError(f"native stack did not start:\n{log}") from exc
        return self

    def command(self, var: Path | None = None) -> list[str]:
        """`stack.py run` for this stack (or another VAR_DIR on the same ports)."""
        return [sys.executable, str(ROOT / "scripts" / "stack.py"), "run", "--port", str(self.port),
                "--var", str(var or self.var), "--base-port", str(self.base_port),
                "--redis-port", str(self.redis_port)]

    def process_env(self) -> dict[str, str]:
        env = {**os.environ, **self.env, "STATIC_DIR": str(self.static)}
        env.pop("VAR_DIR", None)
        return env

    def __exit__(self, *exc):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.var, ignore_errors=True)

    def pid(self, name: str) -> int:
        """The pid of a process of the stack (its group's leader): a service's gunicorn master,
        `redis`, `gateway` (the nginx master)."""
        return int((self.var / "run" / f"{name}.pgid").read_text())

    def state(self) -> dict:
        """The supervisor's process table (run/stack.json)."""
        return json.loads((self.var / "run" / "stack.json").read_text())

    def kill(self, service: str) -> None:
        """SIGKILL the service's whole process group and keep it down until `start`."""
        (self.var / "run" / f"{service}.hold").write_text("held by the tests")
        pgid = self.pid(service)
        os.killpg(pgid, signal.SIGKILL)
        wait_until(lambda: not group_alive(pgid), 10, f"{service} to die")
        self.killed[service] = pgid

    def start(self, service: str) -> None:
        """Release a held service; the supervisor starts it at once. Waits for the new process
        (a /diagnostic worker may still hold a round of checks from before the kill)."""
        (self.var / "run" / f"{service}.hold").unlink(missing_ok=True)
        old = self.killed.pop(service, None)
        if old is not None:
            wait_until(lambda: self.back(service, old), 60, f"the supervisor to start {service} again")
            wait_until(lambda: requests.get(f"{self.service_url(service)}/_hipflask/live", timeout=2).ok, 60,
                       f"{service} to answer")
        self.wait_routes(service)

    def crash(self, name: str) -> int:
        """SIGKILL one process (not its workers), as the OOM killer would; returns its pid."""
        pid = self.pid(name)
        os.kill(pid, signal.SIGKILL)
        return pid

    def back(self, name: str, old_pid: int) -> bool:
        """The supervisor has started `name` again since `old_pid` was killed."""
        process = self.state()["processes"][name]
        return process["state"] == "running" and process["pid"] != old_pid

    def data_dir(self, service: str) -> Path:
        return self.var / "data" / service

    def log_lines(self, service: str) -> list[str]:
        """What a service (or the gateway) wrote to its stdout and stderr so far."""
        prefix = f"{service:<10}| "
        text = (self.var / "stack.log").read_text(errors="replace")
        return [line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)]

    def put_static(self, name: str, data: bytes) -> None:
        (self.static / name).write_bytes(data)

    def gateway_log(self) -> str:
        """The gateway's access log lines so far."""
        lines = (self.var / "stack.log").read_text(errors="replace").splitlines()
        return "\n".join(line for line in lines if line.startswith("gateway "))


class ContainerStack(Stack):
    """What compose and swarm share: a service's replicas are containers on this host."""

    def containers(self, service: str) -> list[str]:
        """The ids of the service's running containers (one per replica)."""
        raise NotImplementedError

    def container_get(self, container: str, path: str) -> str:
        """GET `path` on a container's own port (routes the gateway does not serve)."""
        code = ("import urllib.request; "
                f"print(urllib.request.urlopen('http://127.0.0.1:8000{path}', timeout=5).read().decode())")
        result = subprocess.run(["docker", "exec", container, "python", "-c", code], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def kill_container(self, container: str) -> None:
        subprocess.run(["docker", "kill", "-s", "SIGKILL", container], capture_output=True, check=True, timeout=60)

    def put_static(self, name: str, data: bytes) -> None:
        """A file in the gateway's /srv/static (world-readable, as nginx's worker needs)."""
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / name
            path.write_bytes(data)
            path.chmod(0o644)
            subprocess.run(["docker", "cp", str(path), f"{self.containers('gateway')[0]}:/srv/static/{name}"],
                           capture_output=True, check=True, timeout=60)


class ComposeStack(ContainerStack):
    kind = "compose"

    def __init__(self, env: dict[str, str] | None = None, name: str = ""):
        super().__init__(env)
        self.project = f"hipflask-test-{os.getpid()}{name}"
        self.compose = compose_command()

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
        except AssertionError as exc:
            logs = self.run("logs", "--no-color", "--tail", "60", check=False).stdout
            self.__exit__()
            raise AssertionError(f"compose stack did not start:\n{logs[-6000:]}") from exc
        return self

    def __exit__(self, *exc):
        self.run("down", "-v", "--remove-orphans", "--timeout", "5", check=False)

    def kill(self, service: str) -> None:
        self.run("kill", "-s", "SIGKILL", service)

    def container(self, service: str) -> str:
        return self.run("ps", "-q", service).stdout.split()[0]

    def inspect(self, service: str, template: str) -> str:
        return subprocess.run(["docker", "inspect", "--format", template, self.container(service)],
                              capture_output=True, text=True, check=True).stdout.strip()

    def container_pid(self, service: str) -> int:
        """The host pid of the container's main process (0 while it is not running)."""
        return int(self.inspect(service, "{{.State.Pid}}"))

    def container_health(self, service: str) -> str:
        return self.inspect(service, "{{.State.Health.Status}}")

    def crash(self, service: str) -> int:
        """SIGKILL the container's main process (its gunicorn master) from the host, as the OOM
        killer would. A `docker exec ... kill -9 1` cannot do it: the kernel ignores SIGKILL sent
        to a PID namespace's init from inside the namespace. Returns the host pid."""
        pid = self.container_pid(service)
        os.kill(pid, signal.SIGKILL)
        return pid

    def start(self, service: str) -> None:
        self.run("up", "-d", "--no-deps", "--wait", service)
        self.wait_routes(service)
        self.wait_upstreams(service)

    def upstream_addresses(self, service: str) -> set[str] | None:
        """The addresses in the gateway's upstream block for the service (gateway/upstreams.sh);
        None when the gateway resolves at request time (GATEWAY_UPSTREAMS=resolve: no such file)."""
        result = subprocess.run(["docker", "exec", self.containers("gateway")[0], "cat",
                                 "/etc/nginx/conf.d/hipflask-upstreams.conf"], capture_output=True, text=True,
                                timeout=60)
        if result.returncode != 0:
            return None
        block = re.search(rf"upstream hipflask_{service} {{(.*?)}}", result.stdout, re.S)
        return set(re.findall(r"server ([0-9.]+):\d+;", block.group(1) if block else ""))

    def wait_upstreams(self, service: str, timeout: float = 30) -> None:
        """Until the gateway's upstream block lists exactly the service's running containers. The
        watcher rewrites it and reloads nginx within GATEWAY_RESOLVE_SECONDS of a change, and a
        reload closes the clients' idle keep-alive connections: a test that went on sooner could
        meet that reload in the middle of its own requests."""
        def listed():
            addresses = self.upstream_addresses(service)
            if addresses is None:
                return True
            containers = self.containers(service)
            running = set(subprocess.run(
                ["docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                 *containers], capture_output=True, text=True, check=True, timeout=60).stdout.split())
            return len(addresses) == len(containers) and addresses <= running
        wait_until(listed, timeout, f"the gateway's upstream block to list every {service} container",
                   interval=0.2)

    def gateway_log(self) -> str:
        return self.run("logs", "--no-color", "gateway", check=False).stdout

    def log_lines(self, service: str) -> list[str]:
        return self.run("logs", "--no-color", "--no-log-prefix", service).stdout.splitlines()

    def scale(self, service: str, replicas: int) -> None:
        """Run `replicas` of the service, waiting for its own health only (the others keep running)."""
        self.run("up", "-d", "--no-recreate", "--no-deps", "--wait", "--scale", f"{service}={replicas}", service)
        self.wait_upstreams(service)

    def containers(self, service: str) -> list[str]:
        return self.run("ps", "-q", service).stdout.split()


class SwarmStack(ContainerStack):
    """deploy/swarm.yml on this node's swarm (scripts/swarm.sh), as a stack of its own name: store
    and kv on PostgreSQL, fs on SeaweedFS (S3), the gateway resolving services at request time.
    Leaving it purges the stack: services, network, volumes and secrets."""
    kind = "swarm"

    def __init__(self, env: dict[str, str] | None = None, name: str = ""):
        super().__init__(env)
        self.name = f"hipflask-test-{os.getpid()}{name}"
        self.held: dict[str, int] = {}

    def script(self, command: str) -> None:
        env = {**os.environ, **self.env, "SWARM_STACK": self.name, "GATEWAY_PORT": str(self.port)}
        result = subprocess.run([str(ROOT / "scripts" / "swarm.sh"), command], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, f"swarm.sh {command}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"

    def docker(self, *args: str) -> str:
        result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr[-2000:]}"
        return result.stdout

    def __enter__(self):
        if not docker_available():
            missing("Docker is not available for the swarm stack")
        try:
            self.script("up")
            self.wait_healthy()
        except AssertionError as exc:
            tasks = subprocess.run(["docker", "stack", "ps", "--no-trunc", self.name], capture_output=True, text=True)
            self.__exit__()
            raise AssertionError(f"swarm stack did not start:\n{tasks.stdout[-4000:]}") from exc
        return self

    def __exit__(self, *exc):
        self.script("purge")

    def service(self, name: str) -> str:
        return f"{self.name}_{name}"

    def services(self) -> list[str]:
        return self.docker("service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={self.name}").split()

    def containers(self, service: str) -> list[str]:
        return self.docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={self.service(service)}",
                           "--filter", "status=running").split()

    def scale(self, service: str, replicas: int) -> None:
        self.scale_services(**{service: replicas})

    def scale_services(self, **replicas: int) -> None:
        """Until every named service runs that many tasks (converged: started and healthy)."""
        self.docker("service", "scale", "--detach=false", *(f"{self.service(n)}={r}" for n, r in replicas.items()))
        for name, count in replicas.items():
            wait_until(lambda: len(self.containers(name)) == count, 120, f"{count} running {name} tasks")

    def kill(self, service: str) -> None:
        """SIGKILL every task of the service, then scale it to 0 so Swarm does not replace them."""
        self.held[service] = len(self.containers(service)) or self.held.get(service, 1)
        for container in self.containers(service):
            self.kill_container(container)
        self.docker("service", "scale", "--detach=true", f"{self.service(service)}=0")
        wait_until(lambda: not self.containers(service), 60, f"every {service} task to stop")

    def start(self, service: str) -> None:
        """Scale a killed service back to its replicas, until the gateway routes to it."""
        self.scale(service, self.held.pop(service, 1))
        self.wait_routes(service)

    def log_lines(self, service: str) -> list[str]:
        """What every task of the service wrote to its stdout and stderr so far."""
        result = subprocess.run(["docker", "service", "logs", "--raw", "--no-trunc", self.service(service)],
                                capture_output=True, text=True, timeout=60)
        return result.stdout.splitlines() + result.stderr.splitlines()

    def gateway_log(self) -> str:
        return "\n".join(self.log_lines("gateway"))


def compose_command() -> list[str]:
    """docker compose, or what COMPOSE names instead."""
    return os.environ.get("COMPOSE", "docker compose").split()


def compose_projects() -> list[str]:
    """The names of every compose project on this host, running or stopped."""
    listed = subprocess.run([*compose_command(), "ls", "-a", "-q"], capture_output=True, text=True, timeout=60)
    return listed.stdout.split()


ABANDONED = re.compile(r"hipflask-(?:test|make)-(\d+)")


def remove_abandoned_stacks() -> None:
    """Purge the compose projects and swarm stacks a killed test run left behind (named after a
    pid no longer running pytest): Docker restarts their containers, which would load this run."""
    def abandoned(names: list[str]) -> list[str]:
        found = (ABANDONED.match(name) for name in names)
        return [match.string for match in found if match and not pytest_running(int(match.group(1)))]

    compose = compose_command()
    for project in abandoned(compose_projects()):
        subprocess.run([*compose, "-p", project, "down", "-v", "--remove-orphans", "--timeout", "1"], cwd=ROOT,
                       capture_output=True, timeout=300)
    stacks = subprocess.run(["docker", "stack", "ls", "--format", "{{.Name}}"], capture_output=True, text=True,
                            timeout=60).stdout.split()
    for name in abandoned(stacks):
        subprocess.run([str(ROOT / "scripts" / "swarm.sh"), "purge"], cwd=ROOT, capture_output=True, timeout=600,
                       env={**os.environ, "SWARM_STACK": name})


def pytest_running(pid: int) -> bool:
    try:
        return b"pytest" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def group_alive(pgid: int) -> bool:
    """A process group still has a live (not zombie) member."""
    with os.scandir("/proc") as entries:  # closed on the early return too
        for entry in entries:
            if entry.name.isdigit():
                try:
                    text = Path(f"/proc/{entry.name}/stat").read_text()
                except OSError:
                    continue
                fields = text[text.rindex(")") + 2:].split()
                if int(fields[2]) == pgid and fields[0] not in "ZX":
                    return True
    return False
