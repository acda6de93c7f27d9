"""hipflask.storage_errors: a full volume answers 507 no_space in the one error shape, from any write."""
import errno
import sqlite3

import pytest
from flask import Blueprint

from hipflask.storage_errors import is_no_space

blueprint = Blueprint("unit_storage_errors", __name__)


@blueprint.post("/os/<int:code>")
def os_write(code):
    raise OSError(code, "write failed")


@blueprint.post("/sqlite-full")
def sqlite_full():
    raise sqlite3.OperationalError("database or disk is full")


@blueprint.post("/wrapped")
def wrapped():
    try:
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError as exc:
        raise RuntimeError("could not save") from exc


@pytest.fixture
def client(make_app):
    return make_app(blueprint).test_client()


@pytest.mark.parametrize("path", [f"/os/{errno.ENOSPC}", f"/os/{errno.EDQUOT}", "/sqlite-full", "/wrapped"])
def test_full_volume_answers_507_no_space_json(client, path):
    response = client.post(path, headers={"Accept": "text/html"})
    assert response.status_code == 507
    assert response.mimetype == "application/json"
    assert response.json["code"] == "no_space" and response.json["eid"]


def test_other_os_errors_stay_500(client):
    assert client.post(f"/os/{errno.EIO}").status_code == 500


def test_sqlite_full_error_code_is_recognised_without_its_message():
    error = sqlite3.OperationalError("something")
    error.sqlite_errorcode = 13
    assert is_no_space(error)
    assert not is_no_space(sqlite3.OperationalError("database is locked"))
