"""A real PostgreSQL server for tests: Debian's binaries, a temporary data directory, a free port.

The server runs as an unprivileged user (PostgreSQL refuses root): as root, as the `postgres`
user Debian's package creates, through runuser. It can be killed (-9) and started again on the
same data directory and port, for the fault tests.
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg

from support import free_port, missing, wait_until

USER = "hipflask"


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    def __init__(self):
        self.bin = binaries()
        if self.bin is None:
            missing("PostgreSQL is not installed (scripts/setup.sh --test installs Debian's postgresql)")
        self.root = Path(tempfile.mkdtemp(prefix="hipflask-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", USER, "--auth=trust",
                   "--encoding=UTF8", "--locale=C.UTF-8"])

    def _run(self, argv: list[str]) -> None:
        subprocess.run([*self._as_user, *argv], check=True, capture_output=True)

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def url_of(self, database: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        # fsync=off: the tests kill the server process, never the machine; the kernel keeps what it wrote
        with open(self.root / "server.log", "ab") as log:  # the server writes to its own copy of the handle
            self.process = subprocess.Popen(
                [*self._as_user, str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.root}",
                 "-c", "fsync=off", "-c", "max_connections=300", "-c", "log_min_messages=warning"],
                stdout=subprocess.DEVNULL, stderr=log)
        wait_until(self._answers, 30, f"PostgreSQL on port {self.port}")

    def _answers(self) -> bool:
        with psycopg.connect(self.url, connect_timeout=1) as connection:
            return connection.execute("SELECT 1").fetchone() == (1,)

    def kill(self) -> None:
        """kill -9 of the postmaster (its backends exit when they see it gone)."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        os.kill(pid, signal.SIGKILL)
        self.process.wait(10)
        wait_until(lambda: not any(Path(f"/proc/{child}").exists() for child in children), 30,
                   "the orphaned PostgreSQL backends to exit")

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url_of(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # runuser passes SIGTERM on: a smart shutdown
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)
