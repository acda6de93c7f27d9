"""The path rules of fs.paths, without HTTP."""
import pytest

from fs import paths
from fs.paths import BadPath


def test_fs_path_splits_a_nested_relative_path():
    assert paths.fs_path("a/b/c.txt") == ("a", "b", "c.txt")


@pytest.mark.parametrize("path", [
    "", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", ".", "..", "a\\..\\b", "a\x00b",
    "a\nb", "x" * 256, "/".join(["a"] * 1100),
])
def test_fs_path_refuses_unsafe_paths(path):
    with pytest.raises(BadPath):
        paths.fs_path(path)


def test_fs_path_keeps_unicode_and_spaces():
    assert paths.fs_path("dossier été/a b.txt") == ("dossier été", "a b.txt")


@pytest.mark.parametrize("name", ["minecraft", "a", "A.b-c_d", "9" * 128])
def test_partition_accepts_plain_names(name):
    assert paths.partition(name) == name


@pytest.mark.parametrize("name", [
    "list", "dl", "fs", "store", "kv", "render", "template", "raw_template", "diagnostic", "echo",
    "hello", "message", "static", "_hipflask", "_fs_files", "_gateway", "LIST", "Fs",
])
def test_partition_refuses_reserved_names(name):
    with pytest.raises(BadPath) as refused:
        paths.partition(name)
    assert refused.value.status == 400


@pytest.mark.parametrize("name", ["", ".hidden", "_private", "..", "a/b", "a b", "x" * 129, "é"])
def test_partition_refuses_invalid_names(name):
    with pytest.raises(BadPath):
        paths.partition(name)


@pytest.mark.parametrize("given, safe", [
    ("test.txt", "test.txt"),
    ("../../etc/passwd", "etc_passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("my file (1).txt", "my_file_1.txt"),
    ("<script>alert(1)</script>.html", "scriptalert1_script.html"),
    (".bashrc", "bashrc"),
])
def test_upload_name_is_made_safe(given, safe):
    assert paths.upload_name(given) == safe


@pytest.mark.parametrize("given", [None, "", "...", "日本語", "/", "../.."])
def test_upload_name_with_nothing_safe_in_it_is_refused(given):
    with pytest.raises(BadPath):
        paths.upload_name(given)


def test_a_long_upload_name_is_shortened_keeping_its_extension():
    safe = paths.upload_name("a" * 400 + ".tar.gz")
    assert len(safe) == 255 and safe.endswith(".gz")


@pytest.mark.parametrize("raw", ["/fs/%2e%2e/x", "/fs/%2E./x", "/fs/a%2fb", "/fs/a%2Fb", "/fs/a%5cb", "/fs/a%00"])
def test_check_request_refuses_encoded_separators(raw):
    with pytest.raises(BadPath):
        paths.check_request(raw, "/fs/whatever")


def test_check_request_ignores_the_query_string():
    paths.check_request("/fs/a.txt?next=%2e%2e%2f", "/fs/a.txt")


@pytest.mark.parametrize("path", ["/fs/../x", "/fs/./x", "/fs//x", "/fs/a\\b", "/fs/a\x00b"])
def test_check_request_refuses_decoded_traversal(path):
    with pytest.raises(BadPath):
        paths.check_request(None, path)
