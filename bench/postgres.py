"""A PostgreSQL server for `bench/run.py --postgres`: Debian's binaries, a temporary data directory
(fsync on, as in production), a free port; run as the `postgres` user when the bench runs as root."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from console import log
from processes import Group
from stacks import free_port

USER = "hipflask"


class BenchPostgres:
    def __init__(self):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise RuntimeError("PostgreSQL is not installed (scripts/setup.sh --test installs Debian's postgresql)")
        self.bin = Path(found[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="hipflask-bench-pg-", dir=os.environ.get("BENCH_TMPDIR", "/var/tmp")))
        self.port = free_port()
        self.url = f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        if self.as_user:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run([*self.as_user, str(self.bin / "initdb"), "-D", str(self.root / "data"), "-U", USER,
                        "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
        self.process = subprocess.Popen(
            [*self.as_user, str(self.bin / "postgres"), "-D", str(self.root / "data"), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
             "-c", "max_connections=200"],
            stdout=subprocess.DEVNULL, stderr=open(self.root / "server.log", "ab"), start_new_session=True)
        deadline = time.monotonic() + 30
        while subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                             capture_output=True).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start; see {self.root / 'server.log'}")
            time.sleep(0.2)
        log(f"PostgreSQL {self.bin.parent.name} on port {self.port} (data in {self.root})")

    def create_database(self, name: str) -> str:
        """A new database on the server (for a peer such as Kinto); its URL."""
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name],
                       check=True, capture_output=True)
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"

    def groups(self) -> list[Group]:
        """The server's processes, whose CPU is part of every request that reads or writes it (by
        process tree: each backend is a process group of its own)."""
        return [Group("postgres", roots=[self.process.pid])] if self.process is not None else []

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)
