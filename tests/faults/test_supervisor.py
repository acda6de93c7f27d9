"""scripts/supervisor.py on its own, with real processes: the backoff, SIGHUP's restart, holds."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from supervisor import Supervisor, backoff
from support import wait_until


def test_the_backoff_doubles_from_half_a_second_to_fifteen():
    assert [backoff(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 15, 15]


@pytest.fixture
def supervisor(tmp_path):
    running = Supervisor(tmp_path, adopt_orphans=False)  # the test process stays an ordinary parent
    yield running
    running.stop(timeout=5)


def run_until(supervisor: Supervisor, condition, timeout: float, what: str):
    def ticked():
        supervisor.tick()
        return condition()
    return wait_until(ticked, timeout, what)


def test_a_program_that_keeps_failing_is_restarted_with_a_growing_delay(supervisor, capsysbinary):
    supervisor.add("flaky", lambda restarts: (["false"], None), Path("/"))
    run_until(supervisor, lambda: supervisor.children["flaky"].restarts >= 3, 10, "three restarts")
    log = capsysbinary.readouterr().out.decode()
    assert "flaky exited with status 1; restart 1 in 0.5 s" in log
    assert "flaky exited with status 1; restart 2 in 1 s" in log
    assert "flaky exited with status 1; restart 3 in 2 s" in log


def test_restart_now_skips_the_backoff(supervisor):
    supervisor.add("flaky", lambda restarts: (["false"], None), Path("/"))
    run_until(supervisor, lambda: supervisor.children["flaky"].restarts >= 3, 10, "three restarts")
    run_until(supervisor, lambda: supervisor.children["flaky"].state == "waiting", 5, "the 4 s wait")
    started = time.monotonic()
    supervisor.restart_now()
    run_until(supervisor, lambda: supervisor.children["flaky"].restarts == 4, 5, "the restart")
    assert time.monotonic() - started < 1


def test_a_held_program_stays_down_until_the_hold_is_removed(supervisor, tmp_path):
    supervisor.add("sleeper", lambda restarts: (["sleep", "60"], None), Path("/"))
    (tmp_path / "sleeper.hold").write_text("")
    supervisor.children["sleeper"].process.kill()
    run_until(supervisor, lambda: supervisor.children["sleeper"].state == "held", 5, "the hold")
    deadline = time.monotonic() + 1
    run_until(supervisor, lambda: time.monotonic() > deadline, 2, "a second held")
    assert supervisor.children["sleeper"].restarts == 0
    (tmp_path / "sleeper.hold").unlink()
    run_until(supervisor, lambda: supervisor.children["sleeper"].restarts == 1, 5, "the restart")


def test_the_restart_count_reaches_the_program(supervisor, tmp_path):
    out = tmp_path / "count"
    supervisor.add("counter", lambda restarts: (["sh", "-c", f"echo {restarts} > {out}; exit 1"], None), Path("/"))
    run_until(supervisor, lambda: out.exists() and out.read_text().strip() == "2", 10, "the second restart")


def test_a_program_that_cannot_be_started_again_is_retried_not_fatal(supervisor, capsysbinary):
    supervisor.add("vanished", lambda restarts: (["true"] if restarts == 0 else ["/nonexistent/binary"], None),
                   Path("/"))
    run_until(supervisor, lambda: supervisor.children["vanished"].restarts >= 2, 10, "two tries")
    assert "vanished could not start" in capsysbinary.readouterr().out.decode()


def test_every_line_of_a_programs_output_is_relayed_with_its_name(supervisor, capsysbinary):
    script = "import sys; sys.stdout.write('one\\ntwo\\n\\nthree\\n'); sys.stdout.flush()"
    supervisor.add("talker", lambda restarts: ([sys.executable, "-c", script], None), Path("/"))
    output = b""

    def relayed():
        nonlocal output
        output += capsysbinary.readouterr().out
        return b"talker    | three\n" in output
    wait_until(relayed, 10, "the program's last line")
    assert [line for line in output.splitlines() if line.startswith(b"talker    | ")][:4] == [
        b"talker    | one", b"talker    | two", b"talker    | ", b"talker    | three"]
