"""fs routes on the S3 backend (a real SeaweedFS): the same answers as on the local volume, downloads
handed to the gateway as presigned URLs, and an object store that is down answering 503."""
import hashlib
import io
import os
import uuid

import pytest
import requests

from fs.wsgi import build

BIG = 17 * 1024 * 1024 + 5  # above the multipart threshold


def s3_env(endpoint: str, **overrides) -> dict:
    return {"FS_BACKEND": "s3", "S3_ENDPOINT_URL": endpoint, "S3_BUCKET": "hipflask-service",
            "S3_PREFIX": f"t-{uuid.uuid4().hex}", "S3_ACCESS_KEY_ID": "test", "S3_SECRET_ACCESS_KEY": "test",
            "FS_MAX_UPLOAD_SIZE": "64m", **overrides}


@pytest.fixture
def s3_client(build_app, s3_endpoint):
    return build_app(build, **s3_env(s3_endpoint)).test_client()


@pytest.fixture
def s3_direct(build_app, s3_endpoint):
    return build_app(build, **s3_env(s3_endpoint, FS_ACCEL_REDIRECT="false")).test_client()


def test_a_put_then_a_download_is_handed_to_the_gateway_as_a_presigned_url(s3_client):
    assert s3_client.put("/fs/a/b.txt", data=b"hello s3").status_code == 200
    response = s3_client.get("/fs/a/b.txt")
    assert response.status_code == 200
    assert response.headers["X-Accel-Redirect"] == "/_fs_s3/"
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(b"hello s3").hexdigest()
    assert requests.get(response.headers["X-S3-URL"], timeout=10).content == b"hello s3"


def test_a_download_names_the_object_etag_the_gateway_checks_the_sha256_against(s3_client):
    s3_client.put("/fs/v.txt", data=b"version one")
    response = s3_client.get("/fs/v.txt")
    served = requests.get(response.headers["X-S3-URL"], timeout=10)
    assert response.headers["X-Content-Version"] == served.headers["ETag"]
    s3_client.put("/fs/v.txt", data=b"version two")
    assert s3_client.get("/fs/v.txt").headers["X-Content-Version"] != response.headers["X-Content-Version"]


def test_a_head_is_handed_over_with_a_url_signed_for_head(s3_client):
    s3_client.put("/fs/h.txt", data=b"head me")
    url = s3_client.head("/fs/h.txt").headers["X-S3-URL"]
    answer = requests.head(url, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Length"] == "7"


def test_a_large_upload_goes_in_parts_and_comes_back_whole(s3_direct):
    blob = os.urandom(BIG)
    response = s3_direct.post("/fs/big.bin", data={"file": (io.BytesIO(blob), "big.bin")})
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(blob).hexdigest()
    assert s3_direct.get("/fs/big.bin").get_data() == blob


def test_a_direct_download_honours_range(s3_direct):
    s3_direct.put("/fs/r.txt", data=b"0123456789")
    response = s3_direct.get("/fs/r.txt", headers={"Range": "bytes=2-4"})
    assert response.status_code == 206
    assert response.get_data() == b"234"
    assert response.headers["Content-Range"] == "bytes 2-4/10"


def test_the_uploader_keeps_the_first_file_of_a_name(s3_direct):
    accept = {"Accept": "application/json"}
    first = s3_direct.post("/p1", data={"file": (io.BytesIO(b"first"), "same.txt")}, headers=accept)
    second = s3_direct.post("/p1", data={"file": (io.BytesIO(b"second"), "same.txt")}, headers=accept)
    assert (first.status_code, second.status_code) == (200, 409)
    assert s3_direct.get("/p1/same.txt").get_data() == b"first"


def test_a_listing_names_sizes_and_sha256(s3_direct):
    s3_direct.post("/p2", data={"file": (io.BytesIO(b"abc"), "x.txt")})
    listed = s3_direct.get("/list/p2?format=json").get_json()
    assert [(entry["name"], entry["size"], entry["sha256"]) for entry in listed] == [
        ("x.txt", 3, hashlib.sha256(b"abc").hexdigest())]


def test_a_delete_removes_the_object(s3_direct):
    s3_direct.put("/fs/d.txt", data=b"x")
    assert s3_direct.delete("/fs/d.txt").status_code == 200
    assert s3_direct.get("/fs/d.txt").status_code == 404


def test_an_unreachable_object_store_answers_503_and_readiness_fails(build_app, s3_endpoint):
    client = build_app(build, **s3_env("http://127.0.0.1:9", S3_TIMEOUT="0.5")).test_client()
    response = client.put("/fs/x.txt", data=b"x")
    assert response.status_code == 503
    assert response.get_json()["code"] == "storage_unavailable"
    assert client.get("/_hipflask/ready").status_code == 503
