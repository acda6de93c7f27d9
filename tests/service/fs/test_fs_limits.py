"""The size limit, interrupted uploads and leftovers: nothing partial is ever kept."""
import hashlib
import io
import os

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

import hipflask
from support import assert_error

from fs.wsgi import build

LIMIT = 8 * 1024 * 1024


class Chunked(io.RawIOBase):
    """A request body of unknown length (as with Transfer-Encoding: chunked)."""

    def __init__(self, data: bytes, fail_after: int | None = None):
        self.data = io.BytesIO(data)
        self.fail_after = fail_after
        self.sent = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise ConnectionResetError("client went away")
        chunk = self.data.read(min(len(buffer), 65536))
        buffer[:len(chunk)] = chunk
        self.sent += len(chunk)
        return len(chunk)


def streamed(body, content_type=None, content_length=None) -> dict:
    """Test-client arguments sending `body` (a stream) with or without a Content-Length."""
    environ = {"wsgi.input": body, "wsgi.input_terminated": True}
    if content_type:
        environ["CONTENT_TYPE"] = content_type
    if content_length is not None:
        environ["CONTENT_LENGTH"] = str(content_length)
        del environ["wsgi.input_terminated"]
    return {"environ_overrides": environ}


def multipart(data: bytes, filename="big.bin"):
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename)})
    return body, f"multipart/form-data; boundary={boundary}"


def assert_nothing_kept(data_dir, leftovers):
    assert leftovers() == []
    for folder in ("files", "uploads"):
        assert [name for _, _, names in os.walk(data_dir / folder) for name in names] == []


@pytest.mark.parametrize("url", ["/fs/big.bin", "/p"])
def test_a_multipart_upload_over_the_limit_is_413_and_keeps_nothing(client, data_dir, leftovers, url):
    response = client.post(url, data={"file": (io.BytesIO(b"x" * (LIMIT + 1)), "big.bin")})
    assert_error(response, 413, "too_large")
    assert_nothing_kept(data_dir, leftovers)


def test_a_put_over_the_limit_is_413_and_keeps_nothing(client, data_dir, leftovers):
    response = client.put("/fs/big.bin", data=b"x" * (LIMIT + 1))
    assert_error(response, 413, "too_large")
    assert_nothing_kept(data_dir, leftovers)


def test_a_streamed_put_over_the_limit_is_caught_while_streaming(client, data_dir, leftovers):
    response = client.put("/fs/big.bin", **streamed(Chunked(b"x" * (LIMIT + 1))))
    assert response.status_code == 413
    assert_nothing_kept(data_dir, leftovers)


@pytest.mark.parametrize("url", ["/fs/big.bin", "/p"])
def test_a_streamed_multipart_over_the_limit_is_caught_while_streaming(client, data_dir, leftovers, url):
    body, content_type = multipart(b"x" * (LIMIT + 1))
    response = client.post(url, **streamed(Chunked(body), content_type))
    assert response.status_code == 413
    assert_nothing_kept(data_dir, leftovers)


def test_an_upload_at_the_limit_is_stored(client):
    assert client.put("/fs/exact.bin", data=b"x" * LIMIT).status_code == 200


def test_a_streamed_put_of_unknown_length_is_stored(direct):
    response = direct.put("/fs/streamed.bin", **streamed(Chunked(b"y" * 300000)))
    assert response.status_code == 200
    assert direct.get("/fs/streamed.bin").get_data() == b"y" * 300000


@pytest.mark.parametrize("url", ["/fs/cut.bin", "/p"])
def test_an_interrupted_multipart_upload_leaves_nothing(client, data_dir, leftovers, url):
    body, content_type = multipart(os.urandom(1024 * 1024))
    response = client.post(url, **streamed(Chunked(body, fail_after=500000), content_type, len(body)))
    assert response.status_code == 400
    assert_nothing_kept(data_dir, leftovers)


def test_an_interrupted_put_leaves_nothing(client, data_dir, leftovers):
    response = client.put("/fs/cut.bin", **streamed(Chunked(os.urandom(1024 * 1024), fail_after=500000),
                                                    content_length=1024 * 1024))
    assert response.status_code == 400
    assert_nothing_kept(data_dir, leftovers)


def test_a_body_shorter_than_its_content_length_is_400_and_leaves_nothing(client, data_dir, leftovers):
    body, content_type = multipart(b"z" * 100000)
    response = client.post("/fs/short.bin", input_stream=io.BytesIO(body[:50000]), content_type=content_type,
                           content_length=len(body))
    assert response.status_code == 400
    assert_nothing_kept(data_dir, leftovers)


def test_an_interrupted_upload_keeps_the_previous_file(direct):
    direct.put("/fs/kept.bin", data=b"previous")
    response = direct.put("/fs/kept.bin", **streamed(Chunked(b"n" * 200000, fail_after=100000), content_length=200000))
    assert response.status_code == 400
    assert direct.get("/fs/kept.bin").get_data() == b"previous"


def test_leftovers_of_dead_uploads_are_removed_on_start(build_app):
    volume = hipflask.state(build_app(build)).storage
    tmp, hostname = volume.tmp, volume.host
    dead = tmp / f"{hostname}~999999999~1~abc.part"
    dead.write_bytes(b"partial upload")
    old = tmp / "another-host~12~34~def.part"
    old.write_bytes(b"partial upload")
    os.utime(old, (1, 1))
    recent_elsewhere = tmp / "another-host~12~34~ghi.part"
    recent_elsewhere.write_bytes(b"partial upload")
    build_app(build)
    assert os.listdir(tmp) == [recent_elsewhere.name]


def test_a_bad_size_setting_stops_the_service_naming_the_variable(build_app):
    from hipflask.config import ConfigError
    with pytest.raises(ConfigError, match="FS_MAX_UPLOAD_SIZE"):
        build_app(build, FS_MAX_UPLOAD_SIZE="lots")


def test_a_bad_accel_setting_stops_the_service_naming_the_variable(build_app):
    from hipflask.config import ConfigError
    with pytest.raises(ConfigError, match="FS_ACCEL_REDIRECT"):
        build_app(build, FS_ACCEL_REDIRECT="maybe")


def test_multipart_upload_larger_than_the_form_memory_limit_is_stored(build_app):
    client = build_app(build, MAX_BODY_SIZE="256k", FS_MAX_UPLOAD_SIZE="8m").test_client()
    payload = os.urandom(3 * 1024 * 1024)
    response = client.post("/fs/big/over-form-limit.bin", data={"file": (io.BytesIO(payload), "x.bin")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(payload).hexdigest()
