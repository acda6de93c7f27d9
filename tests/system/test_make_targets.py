"""The operator interface: make targets and the native stack's scripts, run as a user runs them."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import requests

from support import free_port, free_port_run, wait_until

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def run(*argv, cwd=ROOT, env=None, timeout=600):
    return subprocess.run(argv, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


def test_make_help_lists_every_target():
    out = run("make", "help").stdout
    for target in ("build", "run", "debug", "start", "stop", "status", "lint", "test", "clean", "clean-data", "docs",
                   "bench"):
        assert f"make {target} " in out, target


def test_make_docs_builds_the_api_reference_without_warnings():
    result = run("make", "docs")
    assert result.returncode == 0, result.stdout + result.stderr
    page = (ROOT / "docs" / "_build" / "html" / "index.html").read_text()
    for route in ("/store/", "/kv/", "/fs/", "/render/", "/diagnostic"):
        assert route in page


def test_two_setups_at_once_share_one_virtualenv(tmp_path):
    for name in ("requirements.txt", "requirements-dev.txt", "requirements-docs.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    shutil.copytree(ROOT / "shared", tmp_path / "shared", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    setups = [subprocess.Popen([str(tmp_path / "scripts" / "setup.sh")], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env={**os.environ, "VENV": str(tmp_path / ".venv")})
              for _ in range(2)]
    outputs = [setup.communicate(timeout=600)[0] for setup in setups]
    assert [setup.returncode for setup in setups] == [0, 0], outputs
    assert sum("waiting for it" in out for out in outputs) == 1, outputs
    assert sum("installing requirements.txt" in out for out in outputs) == 1, outputs
    check = run(str(tmp_path / ".venv" / "bin" / "python"), "-c", "import flask, gunicorn, redis, hipflask")
    assert check.returncode == 0, check.stderr


def test_make_clean_removes_run_state_and_venv_but_keeps_data(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    for folder in ("var/run", "var/log", "var/data/store", "var/redis", ".venv/bin", "pkg/__pycache__"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "var/data/store/DEFAULT.sqlite3").write_text("data")
    result = run("make", "clean", cwd=tmp_path, env={"VENV": str(tmp_path / ".venv")})
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "var/run").exists() and not (tmp_path / ".venv").exists()
    assert not (tmp_path / "pkg/__pycache__").exists()
    assert (tmp_path / "var/data/store/DEFAULT.sqlite3").read_text() == "data"
    assert (tmp_path / "var/redis").exists()


def test_make_clean_data_says_what_it_deletes(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "var/data/kv").mkdir(parents=True)
    result = run("make", "clean-data", cwd=tmp_path)
    assert "var/data" in result.stdout and "var/redis" in result.stdout
    assert not (tmp_path / "var/data").exists()


def _native(var: Path, port: int, base: int, *extra: str, env=None):
    return [PY, str(ROOT / "scripts" / "stack.py"), *extra, "--port", str(port), "--var", str(var),
            "--base-port", str(base), "--redis-port", str(free_port())]


def test_native_start_status_stop(tmp_path):
    port = free_port()
    started = run(*_native(tmp_path / "var", port, free_port_run(7), "start"), timeout=180)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        status = run("make", "status", f"PORT={port}")
        assert status.returncode == 0, status.stdout
        for service in ("diagnostic", "store", "kv", "fs", "render", "redis"):
            lines = status.stdout.splitlines()
            assert any(line.startswith(service) and " ok " in line for line in lines), status.stdout
        assert (tmp_path / "var" / "run" / "stack.pid").exists()
    finally:
        stopped = run(PY, str(ROOT / "scripts" / "stack.py"), "stop", "--var", str(tmp_path / "var"))
    assert stopped.returncode == 0
    wait_until(lambda: _refused(port), 30, "the gateway to stop")


def _refused(port: int) -> bool:
    try:
        requests.get(f"http://127.0.0.1:{port}/", timeout=1)
        return False
    except requests.ConnectionError:
        return True


def test_debug_mode_reloads_a_changed_handler_without_a_restart(tmp_path):
    handlers = tmp_path / "handlers"
    handlers.mkdir()
    shutil.copy(ROOT / "services/diagnostic/handlers/hello.py", handlers / "hello.py")
    port = free_port()
    log = open(tmp_path / "debug.log", "wb")
    process = subprocess.Popen(_native(tmp_path / "var", port, free_port_run(7), "run", "--debug"), cwd=ROOT,
                               env={**os.environ, "DIAGNOSTIC_HANDLERS_DIR": str(handlers)},
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/hello", timeout=2).text == "World!", 90,
                   "the debug stack to answer /hello")
        source = (handlers / "hello.py").read_text().replace('return "World!"', 'return "Reloaded!"')
        (handlers / "hello.py").write_text(source)
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/hello", timeout=2).text == "Reloaded!", 60,
                   "the changed handler to answer")
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def test_make_build_sets_up_and_builds_the_compose_images():
    result = run("make", "build", timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    images = run("docker", "images", "--format", "{{.Repository}}").stdout.split()
    for service in ("gateway", "diagnostic", "store", "kv", "fs", "render"):
        assert f"hipflask/{service}" in images


def test_make_start_status_stop_with_compose(tmp_path):
    if not shutil.which("docker") or run("docker", "info").returncode != 0:
        from support import missing
        missing("Docker is not available for make start's compose path")
    port = free_port()
    project = {"COMPOSE_PROJECT_NAME": f"hipflask-make-{os.getpid()}"}
    started = run("make", "start", f"PORT={port}", env=project, timeout=900)
    try:
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        wait_until(lambda: run("make", "status", f"PORT={port}").returncode == 0, 60, "make status to report ok")
        status = run("make", "status", f"PORT={port}").stdout
        assert "overall: ok" in status
    finally:
        stopped = run("make", "stop", f"PORT={port}", env=project, timeout=300)
    assert stopped.returncode == 0, stopped.stderr
    wait_until(lambda: _refused(port), 30, "the compose gateway to stop")
    run("docker", "compose", "-p", project["COMPOSE_PROJECT_NAME"], "down", "-v")
