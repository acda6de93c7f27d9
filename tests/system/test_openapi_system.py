"""/openapi.json through the gateway: every route of every service, and schemathesis against it."""
from __future__ import annotations

import importlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests

from hipflask.openapi import INTERNAL_PREFIX
from support import missing

TIMEOUT = 30
SERVICES = ("diagnostic", "store", "kv", "fs", "render", "events")
# Always 500 by design: it shows how the application fails. /events streams until the client leaves.
EXCLUDED = ("/diagnostic/fail", "/events")


def shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", re.sub(r"<[^>]+>", "{}", path))


def routes_in_the_code() -> set[tuple[str, str]]:
    routes = set()
    with tempfile.TemporaryDirectory() as data:
        for name in SERVICES:
            app = importlib.import_module(f"{name}.wsgi").build(
                {"DATA_DIR": f"{data}/{name}", "LOG_LEVEL": "WARNING", "DIAGNOSTIC_TARGETS": ""})
            routes |= {(shape(rule.rule), method) for rule in app.url_map.iter_rules()
                       if rule.endpoint != "static" and not rule.rule.startswith(INTERNAL_PREFIX)
                       for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def test_openapi_json_is_served_with_every_route_of_every_service(gateway):
    response = requests.get(f"{gateway}/openapi.json", timeout=TIMEOUT)
    assert response.status_code == 200
    body = response.json()
    assert body["openapi"] == "3.1.0" and "x-missing" not in body["info"]
    served = {(shape(path), method.upper()) for path, operations in body["paths"].items() for method in operations}
    assert routes_in_the_code() - served == set()
    assert "Error" in body["components"]["schemas"]


@pytest.mark.native_only
@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation(gateway, tmp_path):
    st = Path(sys.executable).with_name("st")
    if not st.exists() and not shutil.which("st"):
        missing("schemathesis is not installed (requirements-dev.txt)")
    result = subprocess.run(
        [str(st), "run", f"{gateway}/openapi.json", "--url", gateway,
         "--checks", "not_a_server_error,response_schema_conformance", "--max-examples", "10",
         *(option for path in EXCLUDED for option in ("--exclude-path", path)),
         "--workers", "2", "--request-timeout", "10", "--seed", "1", "--no-color"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary
    assert re.search(r"\d+ generated, \d+ passed", summary), summary
