"""The system tier's stacks: every test talks HTTP to the gateway only.

`stack` is parametrized, so every system test runs against the native stack, compose, and the
Docker Swarm stack (deploy/swarm.yml: store and kv on PostgreSQL, fs on S3) (tests/stacks.py); the
store and kv modules run once more against compose with store and kv on PostgreSQL
(docker-compose.postgres.yml), the families that keep their data there.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import requests

from stacks import ComposeStack, NativeStack, SwarmStack
from support import ROTATED_AUTH_KEYS, free_port, missing, wait_until

ROOT = Path(__file__).resolve().parents[2]

# The token-mode stack (one per kind, shared by the security tests): two keys (rotation), two
# public namespaces, CORS for the browser tests' allowed origin, a rate limit that ordinary tests
# stay under, and the test client's own addresses as trusted proxies (X-Forwarded-For then names
# the client, so a test can be a client of its own).
TRUSTED_TEST_PROXIES = "127.0.0.1,172.16.0.0/12,192.168.0.0/16,10.0.0.0/8"
# The modules that also run against compose on PostgreSQL (the `compose-postgres` stack).
POSTGRES_MODULES = frozenset({"test_store_system", "test_kv_system", "test_store_query_system"})


def token_stack_env(allowed_origin: str) -> dict[str, str]:
    return {
        "AUTH_MODE": "token",
        "AUTH_KEYS": ROTATED_AUTH_KEYS,
        "AUTH_PUBLIC": "guestbook:write,docs:read",
        "CORS_ORIGINS": allowed_origin,
        "RATE_LIMIT": "100r/s",
        "RATE_LIMIT_BURST": "200",
        "UPLOAD_CONNECTIONS": "8",
        "TRUSTED_PROXIES": TRUSTED_TEST_PROXIES,
    }


@pytest.hookimpl(trylast=True)  # after pytest grouped the items by stack
def pytest_collection_modifyitems(config, items):
    """Tests marked compose_only run against the compose stack alone, native_only against the native
    one, single_host on every stack but swarm; only POSTGRES_MODULES run against compose-postgres.
    test_swarm_system's tests come last: they scale, roll and finally remove the swarm the tier used."""
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        kind = params.get("stack")
        only = "compose" if item.get_closest_marker("compose_only") else (
            "native" if item.get_closest_marker("native_only") else None)
        off_postgres = kind == "compose-postgres" and item.module.__name__.rpartition(".")[2] not in POSTGRES_MODULES
        off_swarm = kind == "swarm" and item.get_closest_marker("single_host")
        (dropped if off_postgres or off_swarm or kind and only and kind != only else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    kept.sort(key=lambda item: item.module.__name__.endswith("test_swarm_system"))  # stable: the rest keep their order
    items[:] = kept


def compose_on_postgres() -> ComposeStack:
    """Compose with docker-compose.postgres.yml: store and kv on one PostgreSQL, no volume of their own."""
    stack = ComposeStack({"DATABASE_STATEMENT_TIMEOUT": "30"}, name="-pg-tier")
    stack.compose += ["-f", "docker-compose.yml", "-f", "docker-compose.postgres.yml"]
    return stack


@pytest.fixture(scope="session")
def swarm_stack():
    """One swarm deploy for the session: the tier's `swarm` kind and test_swarm_system share it."""
    with SwarmStack() as running:
        yield running


@pytest.fixture(scope="session", params=["native", "compose", "compose-postgres", "swarm"])
def stack(request):
    if request.param == "swarm":
        yield request.getfixturevalue("swarm_stack")
        return
    made = {"native": NativeStack, "compose": ComposeStack, "compose-postgres": compose_on_postgres}[request.param]
    with made() as running:
        yield running


@pytest.fixture
def gateway(stack) -> str:
    return stack.url


@pytest.fixture(scope="session")
def origins():
    """Two local origins for browser pages: `allowed` is in the token stack's CORS_ORIGINS, `refused` is not."""
    return {name: f"http://127.0.0.1:{free_port()}" for name in ("allowed", "refused")}


@pytest.fixture(scope="session", params=["native", "compose"])
def token_stack(request, origins):
    """The stack in AUTH_MODE=token (see token_stack_env), started once per kind."""
    env = token_stack_env(origins["allowed"])
    with (NativeStack(env) if request.param == "native" else ComposeStack(env, name="-token")) as running:
        yield running


CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's) driven by Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (requirements-dev.txt)")
    if not os.path.exists(CHROMIUM):
        missing(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True)
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    context.close()


class Prometheus:
    """A real Prometheus server (Debian's `prometheus`) on a free port, with a private data dir."""

    def __init__(self, config: str):
        binary = shutil.which("prometheus")
        if not binary:
            missing("prometheus is not installed (scripts/setup.sh --test installs it)")
        self.dir = Path(tempfile.mkdtemp(prefix="hipflask-prometheus-"))
        (self.dir / "prometheus.yml").write_text(config)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(self.dir / "prometheus.log", "wb")
        self.process = subprocess.Popen(
            [binary, f"--config.file={self.dir / 'prometheus.yml'}", f"--storage.tsdb.path={self.dir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--web.enable-lifecycle"],
            stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200, 60,
                       "prometheus to be ready")
        except AssertionError:
            self.close()
            raise

    def query(self, promql: str) -> list[dict]:
        """The result of an instant query; an error answer (a query that does not parse) fails the test."""
        body = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10).json()
        assert body["status"] == "success", f"{promql}: {body}"
        return body["data"]["result"]

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def native_prometheus_config(var: Path, interval: str = "1s") -> str:
    """monitoring/prometheus.native.yml pointed at a stack's VAR_DIR, scraping every `interval`."""
    text = (ROOT / "monitoring" / "prometheus.native.yml").read_text()
    text = text.replace("../var/run/prometheus/targets.json", str(var / "run" / "prometheus" / "targets.json"))
    text = text.replace("[rules.yml]", f"[{ROOT / 'monitoring' / 'rules.yml'}]")
    return text.replace("15s", interval)


@pytest.fixture(scope="module")
def native_prometheus(stack):
    """A real Prometheus scraping the native stack through its file_sd targets file."""
    if stack.kind != "native":
        yield None
        return
    server = Prometheus(native_prometheus_config(stack.var))
    yield server
    server.close()
