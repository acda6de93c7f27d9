"""A test run killed mid-way (CI's time limit, a ^C) leaves its compose projects running, and
Docker's restart policy brings them back after a reboot: the next run purges them at its start
(conftest's pytest_sessionstart), and leaves alone the projects of runs still going."""
from __future__ import annotations

import subprocess

import pytest

from stacks import ComposeStack, compose_projects, remove_abandoned_stacks
from support import docker_available, missing


@pytest.fixture(scope="module")
def left_behind():
    """Redis alone of two projects: one named after a run that ended, one after this run."""
    if not docker_available():
        missing("Docker is not available for compose projects")
    ended = subprocess.Popen(["true"])
    ended.wait()
    dead, alive = ComposeStack(name="-left"), ComposeStack(name="-kept")
    dead.project = f"hipflask-test-{ended.pid}-left"
    for stack in (dead, alive):
        stack.run("up", "-d", "--wait", "redis")
    remove_abandoned_stacks()
    yield dead.project, alive.project
    for stack in (dead, alive):
        stack.run("down", "-v", "--timeout", "1", check=False)


def test_a_project_of_an_ended_run_is_removed(left_behind):
    assert left_behind[0] not in compose_projects()


def test_a_project_of_a_running_run_is_kept(left_behind):
    assert left_behind[1] in compose_projects()
