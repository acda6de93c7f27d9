"""hipflask.s3: the S3_* settings fs and render share (the store itself is exercised by their tests)."""
import pytest

from hipflask.config import ConfigError, Env
from hipflask.s3 import S3Settings


def test_defaults_when_the_environment_is_empty():
    assert S3Settings.from_env(Env({})) == S3Settings(None, "hipflask", "us-east-1", None, None, "", 5.0)


def test_the_keys_can_come_from_files(tmp_path):
    (tmp_path / "id").write_text("the-id\n")
    (tmp_path / "secret").write_text("the-secret\n")
    settings = S3Settings.from_env(Env({"S3_ACCESS_KEY_ID_FILE": str(tmp_path / "id"),
                                        "S3_SECRET_ACCESS_KEY_FILE": str(tmp_path / "secret")}))
    assert (settings.access_key_id, settings.secret_access_key) == ("the-id", "the-secret")


def test_a_key_and_its_file_together_stop_the_service_naming_the_variable(tmp_path):
    (tmp_path / "id").write_text("x")
    with pytest.raises(ConfigError, match="S3_ACCESS_KEY_ID"):
        S3Settings.from_env(Env({"S3_ACCESS_KEY_ID": "x", "S3_ACCESS_KEY_ID_FILE": str(tmp_path / "id")}))


def test_a_timeout_that_is_not_a_number_stops_the_service_naming_the_variable():
    with pytest.raises(ConfigError, match="S3_TIMEOUT"):
        S3Settings.from_env(Env({"S3_TIMEOUT": "soon"}))


@pytest.mark.parametrize("prefix, key_prefix", [("", ""), ("/", ""), ("stack", "stack/"), ("/a/b/", "a/b/")])
def test_the_key_prefix_is_empty_or_ends_in_one_slash(prefix, key_prefix):
    assert S3Settings(None, "b", "r", None, None, prefix).key_prefix == key_prefix
