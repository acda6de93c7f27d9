"""Process figures of a whole service: the gunicorn master and its workers, read from /proc.

prometheus_client's own process collector describes one process, which in multiprocess mode
would be whichever worker answered the scrape. These figures add up every process of the
service's process group (the group gunicorn's master leads), with the standard names.
"""
from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _boot_time() -> float:
    try:
        with open("/proc/stat") as stat:
            for line in stat:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def _stat(pid: str) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from the state on (the name may hold spaces)


def group_processes(pgid: int) -> list[tuple[str, list[str]]]:
    """(pid, stat fields from field 3 on) of every process in the process group `pgid`."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            fields = _stat(pid)
            if fields is not None and int(fields[2]) == pgid:  # field 5, pgrp
                found.append((pid, fields))
    return found


def _open_fds(pid: str) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def process_group_metrics(service: str) -> Iterable:
    if not os.path.isdir("/proc/self"):
        return
    processes = group_processes(os.getpgid(0))
    cpu = sum(int(fields[11]) + int(fields[12]) for _, fields in processes) / _TICKS  # utime, stime
    rss = sum(int(fields[21]) for _, fields in processes) * _PAGE
    fds = sum(_open_fds(pid) for pid, _ in processes)
    started = min((int(fields[19]) for _, fields in processes), default=0) / _TICKS + _boot_time()
    for family, value in (
            (CounterMetricFamily("process_cpu_seconds", "CPU seconds of the service's processes (alive now)",
                                 labels=["service"]), cpu),
            (GaugeMetricFamily("process_resident_memory_bytes", "Resident memory of the service's processes",
                               labels=["service"]), rss),
            (GaugeMetricFamily("process_open_fds", "Open file descriptors of the service's processes",
                               labels=["service"]), fds),
            (GaugeMetricFamily("process_start_time_seconds", "Start of the service's oldest process "
                               "(its gunicorn master), Unix time", labels=["service"]), started),
            (GaugeMetricFamily("hipflask_processes", "Processes of the service (master and workers)",
                               labels=["service"]), len(processes))):
        family.add_metric([service], value)
        yield family
