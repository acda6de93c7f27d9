"""The compose stack under test: docker-compose.yml plus bench/compose.bench.yml, a project of its own."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from console import log
from layout import COMPOSE_OVERRIDE, ROOT, SERVICES
from processes import Group
from stacks import Target, free_port

# its own project per IMAGE_PREFIX, so two people's benchmarks on one Docker never share containers
COMPOSE_PROJECT = f"{os.environ.get('IMAGE_PREFIX') or 'hipflask'}-bench"


class ComposeStack(Target):
    """docker compose with bench/compose.bench.yml (the ceiling services), project <IMAGE_PREFIX>-bench."""
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
        for name in ("gateway", "redis", "bench-ceiling", "bench-ceiling-best") + SERVICES:
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
