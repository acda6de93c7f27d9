"""hipflask.uptime: the process's start time and restart count."""
import pytest

from hipflask import uptime
from hipflask.config import ConfigError, Env


def test_restarts_is_the_count_the_supervisor_passes():
    assert uptime.restarts(Env({"HIPFLASK_RESTARTS": "2"})) == 2


def test_restarts_is_unknown_without_a_count_or_a_count_file():
    assert uptime.restarts(Env({})) is None


def test_each_start_adds_one_to_the_count_file_and_the_first_start_is_no_restart(tmp_path):
    env = Env({"HIPFLASK_START_COUNT_FILE": str(tmp_path / ".starts")})
    uptime.count_start(env)
    assert uptime.restarts(env) == 0
    uptime.count_start(env)
    uptime.count_start(env)
    assert uptime.restarts(env) == 2
    assert (tmp_path / ".starts").read_text() == "3"


def test_the_supervisors_count_wins_over_the_count_file(tmp_path):
    (tmp_path / ".starts").write_text("9")
    env = Env({"HIPFLASK_START_COUNT_FILE": str(tmp_path / ".starts"), "HIPFLASK_RESTARTS": "1"})
    assert uptime.restarts(env) == 1


def test_a_negative_restart_count_names_the_variable():
    with pytest.raises(ConfigError, match="HIPFLASK_RESTARTS"):
        uptime.restarts(Env({"HIPFLASK_RESTARTS": "-1"}))

