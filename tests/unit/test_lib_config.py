"""hipflask.config: typed environment readers and the settings every service shares."""
import socket
from importlib import metadata
from pathlib import Path

import pytest

import hipflask
from hipflask.config import ConfigError, Env, Settings


def settings(**environ) -> Settings:
    return Settings.from_env("unit", Env(environ))


def test_defaults_when_the_environment_is_empty():
    result = settings()
    assert result.service == "unit"
    assert result.port == 8000
    assert result.log_level == "INFO"
    assert result.redis_url == "redis://localhost:6379/0"
    assert result.redis_timeout == 0.25
    assert result.user_header == "Uid"
    assert result.event_sources == frozenset()
    assert result.event_stream_maxlen == 10000
    assert result.sqlite_vfs is None
    assert result.data_dir == Path("var/data/unit")
    assert result.max_body_size == 10 * 1024**2


def test_blank_values_count_as_unset():
    result = settings(PORT="  ", LOG_LEVEL="", USER_HEADER_NAME=" ")
    assert (result.port, result.log_level, result.user_header) == (8000, "INFO", "Uid")


def test_values_are_read_and_stripped():
    result = settings(PORT=" 9000 ", LOG_LEVEL="DEBUG", REDIS_URL="redis://redis:6379/2",
                      USER_HEADER_NAME="X-User", SQLITE_VFS="unix-excl", DATA_DIR="/data")
    assert result.port == 9000
    assert result.log_level == "DEBUG"
    assert result.redis_url == "redis://redis:6379/2"
    assert result.user_header == "X-User"
    assert result.sqlite_vfs == "unix-excl"
    assert result.data_dir == Path("/data")


@pytest.mark.parametrize("value", ["LOUD", "debug", "Level 5"])
def test_bad_log_level_raises_config_error_naming_log_level(value):
    with pytest.raises(ConfigError, match=r"^LOG_LEVEL\b"):
        settings(LOG_LEVEL=value)


@pytest.mark.parametrize("value", ["abc", "80.5", "0", "-1"])
def test_bad_port_raises_config_error_naming_port(value):
    with pytest.raises(ConfigError, match=r"^PORT\b"):
        settings(PORT=value)


@pytest.mark.parametrize("value", ["65536", "70000"])
def test_port_above_65535_raises_config_error_naming_port(value):
    with pytest.raises(ConfigError, match=r"^PORT\b"):
        settings(PORT=value)


@pytest.mark.parametrize("value", ["10x", "lots", "1.5m", "-1", "10 mb"])
def test_bad_max_body_size_raises_config_error_naming_max_body_size(value):
    with pytest.raises(ConfigError, match=r"^MAX_BODY_SIZE\b"):
        settings(MAX_BODY_SIZE=value)


@pytest.mark.parametrize("value", ["localhost:6379", "http://redis:6379/0", "redis"])
def test_bad_redis_url_raises_config_error_naming_redis_url(value):
    with pytest.raises(ConfigError, match=r"^REDIS_URL\b"):
        settings(REDIS_URL=value)


@pytest.mark.parametrize("value", ["rediss://redis:6380/0", "unix:///run/redis.sock"])
def test_tls_and_unix_socket_redis_urls_are_accepted(value):
    assert settings(REDIS_URL=value).redis_url == value


@pytest.mark.parametrize("value", ["User Id", "Uid:", "Üser", "a/b"])
def test_bad_user_header_name_raises_config_error_naming_user_header_name(value):
    with pytest.raises(ConfigError, match=r"^USER_HEADER_NAME\b"):
        settings(USER_HEADER_NAME=value)


@pytest.mark.parametrize("value", ["-1", "fast"])
def test_bad_redis_timeout_raises_config_error_naming_redis_timeout(value):
    with pytest.raises(ConfigError, match=r"^REDIS_TIMEOUT\b"):
        settings(REDIS_TIMEOUT=value)


@pytest.mark.parametrize("value", ["nan", "inf", "0"])
def test_non_finite_or_zero_redis_timeout_raises_config_error(value):
    with pytest.raises(ConfigError, match=r"^REDIS_TIMEOUT\b"):
        settings(REDIS_TIMEOUT=value)


def test_event_stream_maxlen_below_one_raises_config_error_naming_it():
    with pytest.raises(ConfigError, match=r"^EVENT_STREAM_MAXLEN\b"):
        settings(EVENT_STREAM_MAXLEN="0")


@pytest.mark.parametrize("value, expected", [
    ("10m", 10 * 1024**2),
    ("512k", 512 * 1024),
    ("2g", 2 * 1024**3),
    ("1048576", 1048576),
    ("10M", 10 * 1024**2),
])
def test_max_body_size_reads_nginx_size_notation(value, expected):
    assert settings(MAX_BODY_SIZE=value).max_body_size == expected


def test_local_event_sources_is_a_comma_list_with_blanks_ignored():
    assert settings(LOCAL_EVENT_SOURCES=" store, kv ,,").event_sources == {"store", "kv"}


def test_app_version_is_used_when_set():
    assert settings(APP_VERSION="1.2.3", CURRENT_SHA="abc123").version == "1.2.3"


def test_app_version_falls_back_to_current_sha():
    assert settings(CURRENT_SHA="abc123").version == "abc123"


def test_app_version_falls_back_to_the_package_version_without_current_sha():
    assert settings().version == metadata.version("hipflask")


def test_x_hostname_is_used_when_set():
    assert settings(X_HOSTNAME="replica-1").hostname == "replica-1"


def test_x_hostname_defaults_to_the_machine_hostname_and_is_never_empty():
    hostname = settings(X_HOSTNAME="").hostname
    assert hostname
    assert hostname == (socket.gethostname() or "localhost")


def test_unknown_sqlite_vfs_raises_config_error_naming_sqlite_vfs_at_start():
    with pytest.raises(ConfigError, match=r"^SQLITE_VFS\b"):
        settings(SQLITE_VFS="no-such-vfs")


def test_create_app_refuses_to_start_with_a_bad_value():
    with pytest.raises(ConfigError, match=r"^PORT\b"):
        hipflask.create_app("unit", environ={"PORT": "eighty"})


def test_env_int_enforces_its_minimum_naming_the_variable():
    with pytest.raises(ConfigError, match=r"^WORKERS: must be at least 1"):
        Env({"WORKERS": "0"}).int("WORKERS", 2, minimum=1)


@pytest.mark.parametrize("value, expected", [("yes", True), ("ON", True), ("1", True),
                                             ("false", False), ("Off", False), ("0", False)])
def test_env_bool_reads_the_usual_spellings(value, expected):
    assert Env({"FLAG": value}).bool("FLAG", not expected) is expected


def test_env_bool_rejects_other_values_naming_the_variable():
    with pytest.raises(ConfigError, match=r"^FLAG\b"):
        Env({"FLAG": "maybe"}).bool("FLAG", False)


def test_env_choice_rejects_a_value_outside_the_choices_naming_the_variable():
    with pytest.raises(ConfigError, match=r"^MODE: expected one of a, b"):
        Env({"MODE": "c"}).choice("MODE", "a", ("a", "b"))


def test_env_reads_os_environ_when_given_no_mapping(monkeypatch):
    monkeypatch.setenv("HIPFLASK_UNIT_PROBE", "seen")
    assert Env().str("HIPFLASK_UNIT_PROBE", "default") == "seen"
