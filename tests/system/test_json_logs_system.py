"""LOG_FORMAT=json (the system tests' setting, compose's default): the gateway's access log and
the services' lines are JSON objects carrying the same request id."""
from __future__ import annotations

import json
import uuid

import requests

from support import wait_until


def json_objects(lines: list[str]) -> list[dict]:
    found = []
    for line in lines:
        start = line.find("{")
        if start >= 0:
            try:
                found.append(json.loads(line[start:]))
            except ValueError:
                pass  # a line that is not one of ours
    return found


def test_gateway_and_service_log_the_same_request_id_as_json(stack, gateway):
    request_id = f"rid-{uuid.uuid4().hex}"
    response = requests.get(f"{gateway}/diagnostic/fail", headers={"X-Request-ID": request_id,
                                                                   "Accept": "application/json"}, timeout=10)
    assert response.status_code == 500
    eid = response.json()["eid"]

    def gateway_line():
        return next((entry for entry in json_objects(stack.log_lines("gateway"))
                     if entry.get("request_id") == request_id), None)

    def service_line():
        return next((entry for entry in json_objects(stack.log_lines("diagnostic"))
                     if entry.get("request_id") == request_id), None)

    access = wait_until(gateway_line, 30, "the gateway's JSON access line")
    assert ((access["status"], access["method"], access["family"], access["service"])
            == (500, "GET", "diagnostic", "gateway"))
    logged = wait_until(service_line, 30, "the diagnostic service's JSON error line")
    assert (logged["eid"], logged["level"], logged["service"], logged["route"]) == \
        (eid, "ERROR", "diagnostic", "/diagnostic/fail")
