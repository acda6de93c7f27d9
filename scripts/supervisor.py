"""The native stack's process table: start, restart with backoff, leave no orphans.

Every program runs in its own process group, started from the main thread with
PR_SET_PDEATHSIG=SIGTERM: when the supervisor dies, however it dies (kill -9 and the OOM killer
included), each program is told to stop, and takes its own workers with it (gunicorn's and
nginx's masters stop theirs on SIGTERM). The supervisor is also a child subreaper, so workers
orphaned by a killed master become its children and are reaped here.

A program that exits while the stack is not stopping is restarted, like compose's
`restart: unless-stopped`: after 0.5 s, doubling up to 15 s while it keeps failing, back to
0.5 s once it has stayed up 30 s. Before a restart, what is left of its process group (the
workers of a killed gunicorn or nginx master, which would hold its port) is stopped. SIGHUP
(`restart_now`) skips the wait. A program whose `<run dir>/<name>.hold` file exists is not
restarted until the file is removed (the system tests keep a service down that way, as
`docker compose kill` does).

`<run dir>/stack.json` holds each program's pid, start time, restart count and state, rewritten
at every change, for /diagnostic and for people.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FIRST_DELAY = 0.5
MAX_DELAY = 15.0
STABLE_AFTER = 30.0
DRAIN_SECONDS = 5.0
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
_libc = ctypes.CDLL(None, use_errno=True)

# restarts so far -> (argv, env); env None means the supervisor's own
Command = Callable[[int], "tuple[list[str], dict[str, str] | None]"]


def backoff(failures: int) -> float:
    """The wait before restart number `failures` of a run of quick failures (1, 2, ...)."""
    return min(MAX_DELAY, FIRST_DELAY * 2 ** (failures - 1))


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    members = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat and stat[2] == pgid and stat[0] not in "ZX":
                members.append(int(entry.name))
    return members


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgrp) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2])


def _die_with_parent(parent: int) -> Callable[[], None]:
    def preexec() -> None:  # runs in the child between fork and exec: keep it to system calls
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the supervisor died before the prctl took effect
            os._exit(1)
    return preexec


@dataclass
class Child:
    name: str
    command: Command
    cwd: Path
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    failures: int = 0
    state: str = "starting"  # running | draining | waiting | held | stopped
    restart_at: float = 0.0
    drain_until: float = 0.0


class Supervisor:
    def __init__(self, run_dir: Path, adopt_orphans: bool = True):
        self.run_dir = run_dir
        self.children: dict[str, Child] = {}
        self.started_at = time.time()
        self.output = threading.Lock()
        if adopt_orphans and _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            self.say("stack", "cannot become a child subreaper; orphaned workers are left to init")

    # ---- output ----------------------------------------------------------------------------------
    def say(self, name: str, text: str) -> None:
        self.write(f"{name:<10}| {text}\n".encode())

    def write(self, data: bytes) -> None:
        with self.output:
            try:
                sys.stdout.buffer.write(data)
                sys.stdout.buffer.flush()
            except (OSError, ValueError):  # nobody reads our output any more: keep draining the pipes
                pass

    def relay(self, name: str, process: subprocess.Popen) -> None:
        prefix = f"{name:<10}| ".encode()
        with process.stdout:  # closed at its end: a restarted program's old pipe is not left open
            for line in process.stdout:
                self.write(prefix + line)

    # ---- the table -------------------------------------------------------------------------------
    def add(self, name: str, command: Command, cwd: Path) -> None:
        """Start a program and supervise it from now on. Call from the main thread only."""
        child = self.children[name] = Child(name, command, cwd)
        self.spawn(child)

    def spawn(self, child: Child) -> None:
        argv, env = child.command(child.restarts)
        child.process = subprocess.Popen(
            argv, env=env, cwd=child.cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent(os.getpid()))
        child.started_at = time.time()
        child.state = "running"
        (self.run_dir / f"{child.name}.pgid").write_text(str(child.process.pid))
        threading.Thread(target=self.relay, args=(child.name, child.process), daemon=True).start()
        self.write_state()

    def hold_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.hold"

    def tick(self) -> None:
        """One round: notice exits, stop leftovers, restart what is due. Main thread only."""
        now = time.monotonic()
        for child in self.children.values():
            if child.state == "running" and child.process.poll() is not None:
                self.exited(child, now)
            if child.state == "draining":
                self.drain(child, now)
            if child.state == "held" and not self.hold_file(child.name).exists():
                child.state, child.restart_at = "waiting", now
            if child.state == "waiting" and now >= child.restart_at:
                self.restart(child, now)
        self.reap_orphans()

    def restart(self, child: Child, now: float) -> None:
        child.restarts += 1
        try:
            self.spawn(child)
        except OSError as exc:  # e.g. its binary was removed: try again later, as for a crash
            child.failures += 1
            child.restart_at = now + backoff(child.failures)
            self.say("stack", f"{child.name} could not start ({exc}); next try in {backoff(child.failures):g} s")

    def exited(self, child: Child, now: float) -> None:
        code = child.process.returncode
        up = time.time() - child.started_at
        child.failures = 1 if up >= STABLE_AFTER else child.failures + 1
        delay = backoff(child.failures)
        child.restart_at = now + delay
        child.state, child.drain_until = "draining", now + DRAIN_SECONDS
        if self.hold_file(child.name).exists():
            self.say("stack", f"{child.name} exited with status {code}; held by {self.hold_file(child.name)}")
        else:
            self.say("stack", f"{child.name} exited with status {code}; restart {child.restarts + 1} in {delay:g} s")
        self.signal_group(child, signal.SIGTERM)
        self.write_state()

    def drain(self, child: Child, now: float) -> None:
        """Wait for the rest of the group to go (SIGKILL after DRAIN_SECONDS)."""
        if group_members(child.process.pid):
            if now < child.drain_until:
                return
            self.signal_group(child, signal.SIGKILL)
            if group_members(child.process.pid):
                return
        child.state = "held" if self.hold_file(child.name).exists() else "waiting"
        self.write_state()

    def restart_now(self) -> None:
        """SIGHUP: restart every exited program now, without its backoff (holds are kept)."""
        for child in self.children.values():
            child.restart_at = 0.0

    def reap_orphans(self) -> None:
        """Reap exited workers that were orphaned to us; our own programs are left to Popen,
        which keeps their exit status (waitid with WNOWAIT looks without reaping)."""
        ours = {child.process.pid: child.process for child in self.children.values() if child.process}
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or info.si_pid == 0:
                return
            if info.si_pid in ours:
                ours.pop(info.si_pid).poll()
            else:
                try:
                    os.waitpid(info.si_pid, os.WNOHANG)
                except ChildProcessError:
                    pass

    @staticmethod
    def signal_group(child: Child, signum: int) -> None:
        try:
            os.killpg(child.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    # ---- stopping --------------------------------------------------------------------------------
    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every group, last started first; SIGKILL what is left at the deadline."""
        children = [child for child in reversed(list(self.children.values())) if child.process]
        for child in children:
            self.signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in children:
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.signal_group(child, signal.SIGKILL)
                child.process.wait(5)
            child.state = "stopped"
        while any(group_members(child.process.pid) for child in children) and time.monotonic() < deadline:
            self.reap_orphans()
            time.sleep(0.05)
        for child in children:
            self.signal_group(child, signal.SIGKILL)
        self.write_state()

    # ---- state file ------------------------------------------------------------------------------
    def write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "started_at": round(self.started_at, 3),
            "processes": {
                child.name: {"pid": child.process.pid if child.process else None,
                             "state": child.state,
                             "started_at": round(child.started_at, 3),
                             "restarts": child.restarts}
                for child in self.children.values()
            },
        }
        path = self.run_dir / "stack.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(state, indent=1))
        os.replace(temporary, path)
