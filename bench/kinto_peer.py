"""Kinto on PostgreSQL, the peer of `bench/run.py --postgres` (issue 17: hipflask on PostgreSQL at
least 4x Kinto on the same PostgreSQL server).

`KintoPeer.start()` installs Kinto, pinned by bench/kinto/requirements.txt, into a virtualenv of its
own under bench/.kinto/ (its dependencies would clash with the project's; made again when the pins
change), creates a `kinto` database on the bench's PostgreSQL server, runs `kinto migrate`, starts
Kinto under gunicorn (2 x cores + 1 sync workers on a unix socket, as the best-settings ceiling)
behind an nginx of its own (bench/kinto/nginx.conf.template), and seeds the records the scenarios
read. Any failure raises KintoUnavailable with the reason: the bench prints it and goes on without
the peer.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from console import log
from layout import BENCH
from postgres import BenchPostgres
from processes import Group
from scenarios import KINTO_AUTH, STORE_BODY
from stacks import best_workers, free_port, http_request, stop_process_group

KINTO = BENCH / "kinto"
REQUIREMENTS = KINTO / "requirements.txt"
VENVS = BENCH / ".kinto"
INSTALL_TIMEOUT = 600.0
BUCKET = "/v1/buckets/bench"
RECORDS = BUCKET + "/collections/{}/records"
LIST_SIZE = 100


class KintoUnavailable(RuntimeError):
    """Kinto could not be installed, started or seeded here (the reason is the message)."""


def venv_path() -> Path:
    """The virtualenv of the pinned requirements: a new one whenever the pins change."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    return VENVS / f"venv-{digest}"


def install() -> Path:
    """Kinto's virtualenv, installed from PyPI (pip's ordinary client) unless it is already there."""
    venv = venv_path()
    if (venv / ".installed").exists():
        return venv
    shutil.rmtree(venv, ignore_errors=True)
    VENVS.mkdir(exist_ok=True)
    started = time.monotonic()
    log(f"Kinto: installing {REQUIREMENTS.relative_to(BENCH.parent)} into {venv}")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True,
                       timeout=INSTALL_TIMEOUT)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(REQUIREMENTS)], check=True, capture_output=True, timeout=INSTALL_TIMEOUT)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(venv, ignore_errors=True)
        raise KintoUnavailable(f"pip could not install it: {one_line((exc.stderr or b'').decode(errors='replace'))}") \
            from None
    except subprocess.TimeoutExpired:
        shutil.rmtree(venv, ignore_errors=True)
        raise KintoUnavailable(f"its install took more than {INSTALL_TIMEOUT:g} s") from None
    (venv / ".installed").write_text("")
    log(f"Kinto: installed in {time.monotonic() - started:.0f} s")
    return venv


def one_line(text: str, lines: int = 3) -> str:
    """The last lines of a tool's output, on one line (for a table cell)."""
    return " / ".join(line.strip() for line in text.strip().splitlines()[-lines:])[-300:]


def render(template: Path, values: dict[str, str]) -> str:
    return string.Template(template.read_text()).safe_substitute(values)


class KintoPeer:
    """Kinto under gunicorn behind its own nginx, on a database of the bench's PostgreSQL server."""

    def __init__(self, database: BenchPostgres):
        self.database = database
        self.root = Path(tempfile.mkdtemp(prefix="hipflask-bench-kinto-",
                                          dir=os.environ.get("BENCH_TMPDIR", "/var/tmp")))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.socket = self.root / "kinto.sock"
        self.kinto: subprocess.Popen | None = None
        self.nginx: subprocess.Popen | None = None
        self.values: dict[str, str] = {"kinto_url": self.url}
        self.version = ""
        self.workers = best_workers()

    def start(self) -> None:
        try:
            self._start()
        except (OSError, subprocess.SubprocessError) as exc:
            raise KintoUnavailable(str(exc)) from None

    def _start(self) -> None:
        venv = install()
        url = self.database.create_database("kinto")
        ini = self.root / "kinto.ini"
        ini.write_text(render(KINTO / "kinto.ini.template", {"DATABASE_URL": url, "SECRET": secrets.token_hex(32)}))
        migrated = subprocess.run([str(venv / "bin" / "kinto"), "migrate", "--ini", str(ini)], capture_output=True,
                                  text=True, timeout=120)
        if migrated.returncode != 0:
            raise KintoUnavailable(f"`kinto migrate` failed: {one_line(migrated.stderr)}")
        self.version = subprocess.run([str(venv / "bin" / "python"), "-c",
                                       "import importlib.metadata as m; print(m.version('kinto'))"],
                                      capture_output=True, text=True).stdout.strip()
        env = dict(os.environ, KINTO_INI=str(ini), PYTHONUNBUFFERED="1")
        env.pop("GUNICORN_CMD_ARGS", None)
        with open(self.root / "kinto.log", "ab") as out:
            self.kinto = subprocess.Popen(
                [str(venv / "bin" / "gunicorn"), "--worker-class", "sync", "--workers", str(self.workers),
                 "--bind", f"unix:{self.socket}", "--pythonpath", str(KINTO), "kinto_wsgi:application"],
                env=env, cwd=self.root, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        nginx_conf = self.root / "nginx.conf"
        nginx_conf.write_text(render(KINTO / "nginx.conf.template", {
            "USER_DIRECTIVE": "user root;" if os.geteuid() == 0 else "", "RUN_DIR": str(self.root),
            "SOCKET": str(self.socket), "PORT": str(self.port)}))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        with open(self.root / "nginx.log", "ab") as out:
            self.nginx = subprocess.Popen([nginx, "-p", str(self.root), "-e", "stderr", "-c", str(nginx_conf)],
                                          stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        self.wait_ready()
        self.seed()
        log(f"Kinto {self.version} on PostgreSQL at {self.url} ({self.workers} gunicorn sync workers)")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            for process, name in ((self.kinto, "gunicorn"), (self.nginx, "nginx")):
                if process is not None and process.poll() is not None:
                    raise KintoUnavailable(f"its {name} exited: {self.tail(name)}")
            with contextlib.suppress(OSError):
                status, _, body = http_request(f"{self.url}/v1/", timeout=3)
                if status == 200:
                    return
                last = f"{status} {body[:120]!r}"
            time.sleep(0.25)
        raise KintoUnavailable(f"GET /v1/ did not answer 200 within {timeout:g} s ({last}): {self.tail('gunicorn')}")

    def tail(self, name: str) -> str:
        path = self.root / ("kinto.log" if name == "gunicorn" else "nginx.log")
        with contextlib.suppress(OSError):
            return one_line(path.read_text(errors="replace"))
        return ""

    def call(self, method: str, path: str, data: dict | None = None) -> dict:
        body = json.dumps({"data": data}).encode() if data is not None else None
        status, _, answer = http_request(self.url + path, method, body,
                                         {**KINTO_AUTH, "Content-Type": "application/json"}, timeout=30)
        if status >= 400:
            raise KintoUnavailable(f"{method} {path} answered {status} {answer[:200]!r}")
        return json.loads(answer) if answer else {}

    def seed(self) -> None:
        """A bucket with three collections: one record to read, LIST_SIZE to list, one to POST into."""
        record = json.loads(STORE_BODY)
        self.call("PUT", BUCKET, {})
        for name in ("item", "list", "post"):
            self.call("PUT", f"{BUCKET}/collections/{name}", {})
        self.values["kinto_record_id"] = self.call("POST", RECORDS.format("item"), record)["data"]["id"]
        for _ in range(LIST_SIZE):
            self.call("POST", RECORDS.format("list"), record)
        listed = self.call("GET", RECORDS.format("list"))["data"]
        if len(listed) != LIST_SIZE:
            raise KintoUnavailable(f"its list gave {len(listed)} records after seeding {LIST_SIZE}")

    def groups(self) -> list[Group]:
        return [Group(name, pgids=[process.pid]) for name, process in (("bench-kinto", self.kinto),
                                                                          ("bench-kinto-nginx", self.nginx))
                if process is not None]

    def stop(self) -> None:
        stop_process_group(self.nginx)
        stop_process_group(self.kinto)
        shutil.rmtree(self.root, ignore_errors=True)
