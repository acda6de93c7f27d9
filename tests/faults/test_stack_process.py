"""The stack process itself: no orphans when it dies, no second stack over a running one."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from stacks import NativeStack
from support import wait_until

REFUSED_WITHIN = 10


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc (children, grandchildren, ...)."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat:
                parents.setdefault(stat[1], []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] not in "ZX"


def mentions(pid: int, text: str) -> bool:
    """The process's command line or environment names `text` (a VAR_DIR)."""
    for part in ("cmdline", "environ"):
        try:
            if text.encode() in Path(f"/proc/{pid}/{part}").read_bytes():
                return True
        except OSError:
            pass
    return False


def _stat(pid: int) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def refused(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=REFUSED_WITHIN * 3)
    assert time.monotonic() - started < REFUSED_WITHIN, "the refusal took too long"
    return result


def test_a_second_stack_on_the_same_var_dir_is_refused_at_once(native_stack):
    result = refused(native_stack.command(), native_stack.process_env())
    assert result.returncode != 0
    assert f"stack: a stack is already running for {native_stack.var} (pid {native_stack.process.pid})" \
        in result.stderr
    native_stack.wait_healthy(10)


def test_a_stack_on_taken_ports_is_refused_before_it_starts_anything(native_stack, tmp_path):
    result = refused(native_stack.command(tmp_path / "var"), native_stack.process_env())
    assert result.returncode != 0
    assert f"stack: port {native_stack.port} is taken (gateway)" in result.stderr
    assert f"stack: port {native_stack.redis_port} is taken (redis)" in result.stderr
    assert f"stack: port {native_stack.base_port + 1} is taken (store)" in result.stderr
    assert not list((tmp_path / "var" / "run").glob("*.pgid")), "something was started"
    native_stack.wait_healthy(10)


def test_a_kill_9_of_the_stack_process_leaves_no_process_of_the_stack_behind(figures):
    with NativeStack() as stack:
        tree = descendants(stack.process.pid)
        assert len(tree) >= 7 + 5 * 2  # redis, nginx + workers, five gunicorn masters + workers
        killed_at = time.monotonic()
        stack.process.send_signal(signal.SIGKILL)
        stack.process.wait(10)

        def left():
            return sorted(pid for pid in tree if alive(pid)) + sorted(
                int(entry.name) for entry in os.scandir("/proc")
                if entry.name.isdigit() and alive(int(entry.name)) and mentions(int(entry.name), str(stack.var)))
        wait_until(lambda: left() == [], 30, "every process of the stack to exit")
        figures.append(f"kill -9 stack.py : its {len(tree)} processes all gone in {time.monotonic() - killed_at:.2f} s")
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{stack.url}/diagnostic", timeout=2)
