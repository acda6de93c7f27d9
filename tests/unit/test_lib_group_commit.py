"""hipflask.group_commit.GroupCommit: concurrent writers share batches, each answered after its batch ran."""
import threading

import pytest

from hipflask.group_commit import GroupCommit
from support import run_threads, wait_until


class Recorder:
    """A run_batch that records its batches; the first batch waits for `release`."""

    def __init__(self, fail_with=None):
        self.batches, self.release, self.fail_with = [], threading.Event(), fail_with
        self.takes_pending_of = None  # a GroupCommit: take its queued writes after the wait

    def __call__(self, key, batch):
        if not self.batches:
            self.release.wait(10)
        if self.takes_pending_of is not None:
            self.takes_pending_of.take_pending(key, batch)
        self.batches.append([write.work for write in batch])
        if self.fail_with is not None and len(self.batches) > 1:
            raise self.fail_with
        for write in batch:
            write.result = ("done", write.work)


def queue_behind_a_held_batch(group, recorder, works):
    """Submit "first" (held in run_batch), then `works` behind it; release; the outcomes by work."""
    outcomes = {}

    def submit(work):
        try:
            outcomes[work] = group.submit("key", work)
        except Exception as exc:  # the outcome of a write of a failed batch
            outcomes[work] = exc

    threads = [threading.Thread(target=submit, args=("first",))]
    threads[0].start()
    wait_until(lambda: "key" in group._pending, timeout=10, what="the first batch running")
    for work in works:
        threads.append(threading.Thread(target=submit, args=(work,)))
        threads[-1].start()
        wait_until(lambda: work in [write.work for write in group._pending["key"]], timeout=10,
                   what=f"{work} queued")
    recorder.release.set()
    for thread in threads:
        thread.join(10)
    return outcomes


def test_a_lone_write_runs_at_once_in_a_batch_of_its_own():
    recorder = Recorder()
    recorder.release.set()
    assert GroupCommit(recorder).submit("key", "a") == ("done", "a")
    assert recorder.batches == [["a"]]


def test_writes_queued_behind_a_running_batch_share_the_next_one_in_arrival_order():
    recorder = Recorder()
    outcomes = queue_behind_a_held_batch(GroupCommit(recorder), recorder, ["b", "c", "d"])
    assert recorder.batches == [["first"], ["b", "c", "d"]]
    assert outcomes == {work: ("done", work) for work in ("first", "b", "c", "d")}


def test_a_batch_holds_at_most_max_batch_writes():
    recorder = Recorder()
    queue_behind_a_held_batch(GroupCommit(recorder, max_batch=2), recorder, ["b", "c", "d"])
    assert recorder.batches == [["first"], ["b", "c"], ["d"]]


def test_a_batch_that_raises_fails_each_of_its_writes_and_no_other():
    recorder = Recorder(fail_with=OSError("the batch failed"))
    outcomes = queue_behind_a_held_batch(GroupCommit(recorder), recorder, ["b", "c"])
    assert outcomes["first"] == ("done", "first")
    assert all(isinstance(outcomes[work], OSError) for work in ("b", "c"))


def test_writes_queued_while_a_runner_waited_join_its_batch_when_it_takes_them():
    recorder = Recorder()
    group = recorder.takes_pending_of = GroupCommit(recorder)
    outcomes = queue_behind_a_held_batch(group, recorder, ["b", "c"])
    assert recorder.batches == [["first", "b", "c"]]
    assert outcomes == {work: ("done", work) for work in ("first", "b", "c")}
    assert group._pending == {}


def test_writes_taken_late_still_keep_a_batch_within_max_batch():
    recorder = Recorder()
    group = recorder.takes_pending_of = GroupCommit(recorder, max_batch=2)
    queue_behind_a_held_batch(group, recorder, ["b", "c", "d"])
    assert recorder.batches == [["first", "b"], ["c", "d"]]


def test_keys_do_not_share_batches():
    group, seen = GroupCommit(lambda key, batch: [setattr(w, "result", key) for w in batch]), []

    def writer(key):
        for _ in range(50):
            seen.append((key, group.submit(key, None)))

    run_threads(lambda: [writer(k) for k in ("x", "y")], 4)
    assert {(key, result) for key, result in seen} == {("x", "x"), ("y", "y")}


@pytest.mark.parametrize("threads", [1, 8])
def test_every_write_gets_its_own_result(threads):
    group = GroupCommit(lambda key, batch: [setattr(w, "result", w.work * 2) for w in batch])
    counter = iter(range(10**6))
    lock = threading.Lock()

    def writer():
        for _ in range(200):
            with lock:
                n = next(counter)
            assert group.submit("key", n) == n * 2

    run_threads(writer, threads)
