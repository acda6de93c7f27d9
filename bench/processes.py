"""Memory and CPU of each service, from /proc."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def scan_proc() -> dict[int, tuple[int, int, float]]:
    """pid -> (ppid, pgrp, cpu seconds) of every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        table[int(entry.name)] = (int(fields[1]), int(fields[2]), (int(fields[11]) + int(fields[12])) / TICK)
    return table


def rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, IndexError):
        return 0


def parse_pss(smaps_rollup: str) -> int:
    """Bytes of the `Pss:` line of /proc/<pid>/smaps_rollup (shared pages split among their users)."""
    for line in smaps_rollup.splitlines():
        if line.startswith("Pss:"):
            fields = line.split()
            return int(fields[1]) * 1024 if len(fields) > 1 and fields[1].isdigit() else 0
    return 0


def pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return parse_pss(f.read())
    except OSError:
        return 0


def is_stack(name: str) -> bool:
    """Whether a group is part of the stack under test (the ceiling apps are the benchmark's own)."""
    return not name.startswith("bench-")


@dataclass
class Group:
    """The processes of one service: process groups (native) or container process trees (compose)."""
    name: str
    pgids: list[int] = field(default_factory=list)
    roots: list[int] = field(default_factory=list)

    def members(self, table: dict[int, tuple[int, int, float]]) -> list[int]:
        if self.pgids:
            return [pid for pid, (_, pgrp, _) in table.items() if pgrp in self.pgids]
        children: dict[int, list[int]] = {}
        for pid, (ppid, _, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        found, todo = [], [root for root in self.roots if root in table]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children.get(pid, ()))
        return found


class Sampler(threading.Thread):
    """Samples the RSS summed over each group's processes; keeps the peak of the current window."""

    def __init__(self, groups_source, interval: float = 0.2):
        super().__init__(daemon=True)
        self.groups_source = groups_source  # a callable: the groups may change (a restarted service)
        self.interval = interval
        self.lock = threading.Lock()
        self.members: dict[str, list[int]] = {}
        self.peaks: dict[str, int] = {}
        self.stack_peak = 0  # the window's peak of the whole stack's RSS (summed at one instant)
        self.stopped = threading.Event()
        self.refresh()

    def refresh(self) -> dict[int, tuple[int, int, float]]:
        table = scan_proc()
        members = {group.name: group.members(table) for group in self.groups_source()}
        with self.lock:
            self.members = members
        return table

    def sample(self) -> dict[str, int]:
        with self.lock:
            members = dict(self.members)
        return {name: sum(rss(pid) for pid in pids) for name, pids in members.items()}

    def run(self) -> None:
        last_refresh = time.monotonic()
        while not self.stopped.wait(self.interval):
            if time.monotonic() - last_refresh > 1.0:
                self.refresh()
                last_refresh = time.monotonic()
            self.record(self.sample())

    def record(self, current: dict[str, int]) -> None:
        with self.lock:
            for name, value in current.items():
                self.peaks[name] = max(self.peaks.get(name, 0), value)
            self.stack_peak = max(self.stack_peak, sum(v for name, v in current.items() if is_stack(name)))

    def start_window(self) -> None:
        with self.lock:
            self.peaks = {}
            self.stack_peak = 0

    def end_window(self) -> dict[str, int]:
        self.record(self.sample())
        with self.lock:
            return dict(self.peaks)

    def pss(self) -> dict[str, int]:
        """PSS summed over each group's processes, now (smaps_rollup costs more than statm: sampled
        once per run, never in the 0.2 s loop)."""
        with self.lock:
            members = dict(self.members)
        return {name: sum(pss(pid) for pid in pids) for name, pids in members.items()}

    def cpu(self) -> dict[str, float]:
        table = self.refresh()
        with self.lock:
            members = dict(self.members)
        return {name: sum(table[pid][2] for pid in pids if pid in table) for name, pids in members.items()}
