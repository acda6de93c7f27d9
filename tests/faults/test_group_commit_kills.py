"""kill -9 of a store or kv worker in the middle of a group commit, under concurrent writers.

Eight writers per family keep each worker's threads busy, so writes share transactions (a batch
per worker, hipflask.group_commit). The worker killed is the one /proc/locks shows holding the
database's write lock (byte 120 of the WAL index `-shm`, SQLite's WAL_WRITE_LOCK): it is between
BEGIN IMMEDIATE and the end of its COMMIT. Every acknowledged write must be there afterwards, once,
with its content; the writes of the cut-off batch were never answered, so they may be absent.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from load import WriteLoad
from support import wait_until

KILLS = 3
WAL_WRITE_LOCK = "120"  # the byte of the -shm file a writer locks, SQLite's WALINDEX_LOCK_OFFSET


def write_lock_holder(shm: Path) -> int | None:
    """The pid holding SQLite's WAL write lock on the database of `shm`, None when no one does."""
    inode = str(os.stat(shm).st_ino)
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()  # "1: POSIX  ADVISORY  WRITE 1234 fd:01:5678 120 120"; waiters have "->"
        if len(fields) >= 8 and fields[1] == "POSIX" and fields[3] == "WRITE" \
                and fields[5].rpartition(":")[2] == inode and fields[6] == WAL_WRITE_LOCK:
            return int(fields[4])
    return None


def parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


@pytest.mark.slow
@pytest.mark.parametrize("service", ["store", "kv"])
def test_acknowledged_writes_survive_a_kill_9_of_a_worker_in_the_middle_of_a_group_commit(
        native_stack, figures, service):
    master = native_stack.pid(service)
    killed = []
    with WriteLoad(native_stack.url, threads_per_family=8, pause=0, families=(service,)) as load:
        wait_until(lambda: load.acknowledged_count() >= 50, 60, "writes acknowledged before the kills")
        shm = wait_until(lambda: next(native_stack.data_dir(service).glob(f"*{load.tag}*.sqlite3-shm"), None),
                         30, "the namespace's WAL index")
        for _ in range(KILLS):
            holder = wait_until(lambda: (pid := write_lock_holder(shm)) and parent(pid) == master and pid,
                                30, f"a {service} worker holding the write lock")
            os.kill(holder, signal.SIGKILL)
            killed.append(holder)
            before = load.acknowledged_count()
            wait_until(lambda: load.acknowledged_count() >= before + 50, 60, "writes acknowledged after the kill")
    [check] = load.check()
    figures.append(f"kill -9 {service} worker mid group commit x{len(killed)}: {check.checked} acknowledged "
                   f"writes checked, {check.lost} lost, {check.duplicated} duplicated; "
                   f"{load.failures()} requests failed meanwhile")
    assert (check.lost, check.duplicated) == (0, 0)
    assert check.checked > 0 and len(set(killed)) == KILLS
