"""Operations through the gateway and a real Prometheus: /livez, /readyz, health+json, metrics kept
off the public gateway, file_sd discovery, the dashboard's queries, a killed service's target."""
from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from support import free_port, wait_until

ROOT_DASHBOARD = "monitoring/grafana-dashboard.json"
FAMILIES = ("diagnostic", "store", "kv", "fs", "render", "events")


def test_livez_is_answered_by_the_gateway(gateway):
    response = requests.get(f"{gateway}/livez", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/health+json")
    assert response.json()["status"] == "pass"


def test_readyz_passes_when_every_family_is_ready(gateway):
    response = requests.get(f"{gateway}/readyz", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "pass"


def test_health_json_through_the_gateway_lists_every_service(gateway):
    response = requests.get(f"{gateway}/diagnostic", headers={"Accept": "application/health+json"}, timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] in ("pass", "warn")
    assert {key.split(":")[0] for key in body["checks"]} >= {*FAMILIES, "redis"}


@pytest.mark.parametrize("path", ["/_hipflask/metrics", "/_hipflask/ready", "/_hipflask/live"])
def test_service_internal_paths_are_not_public(gateway, path):
    response = requests.get(f"{gateway}{path}", timeout=5)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def traffic(gateway: str) -> None:
    """A little of everything: every family answers requests (one 500 on diagnostic too)."""
    name = f"m{uuid.uuid4().hex[:10]}"
    for _ in range(5):
        assert requests.post(f"{gateway}/store/{name}", data={"a": 1}, timeout=10).status_code == 200
        assert requests.get(f"{gateway}/store/{name}", timeout=10).status_code == 200
        assert requests.post(f"{gateway}/kv/{name}", data=b"v", headers={"Content-Type": "text/plain"},
                             timeout=10).status_code == 200
        assert requests.get(f"{gateway}/kv/{name}", timeout=10).status_code == 200
        assert requests.get(f"{gateway}/render/hello.json", timeout=10).status_code == 200
        assert requests.get(f"{gateway}/diagnostic", timeout=10).status_code == 200
    requests.get(f"{gateway}/diagnostic/fail", timeout=10)
    assert requests.post(f"{gateway}/{name}", files={"file": ("a.txt", b"hello")}, timeout=10).status_code == 200
    assert requests.get(f"{gateway}/{name}/a.txt", timeout=10).status_code == 200


@pytest.fixture(scope="module")
def scraped(stack, native_prometheus):
    """The native stack after traffic, with Prometheus having scraped every target since."""
    traffic(stack.url)

    def every_service_has_a_rate():
        found = native_prometheus.query('sum by (service) (rate(hipflask_http_requests_total[1m])) > 0')
        return {entry["metric"]["service"] for entry in found} >= set(FAMILIES)
    wait_until(every_service_has_a_rate, 60, "a request rate above 0 for every service", interval=0.5)
    traffic(stack.url)  # fresh traffic inside the rate windows of the queries below
    return native_prometheus


@pytest.mark.native_only
def test_targets_file_lists_every_service_with_its_label(stack):
    targets = json.loads((stack.var / "run" / "prometheus" / "targets.json").read_text())
    assert sorted(entry["labels"]["service"] for entry in targets) == sorted(FAMILIES)
    assert all(len(entry["targets"]) == 1 and entry["targets"][0].startswith("127.0.0.1:") for entry in targets)


@pytest.mark.native_only
def test_prometheus_sees_every_target_up(scraped):
    up = scraped.query('up{job="hipflask"}')
    assert {entry["metric"]["service"]: entry["value"][1] for entry in up} == {name: "1" for name in FAMILIES}


@pytest.mark.native_only
def test_promql_gives_a_p99_latency_per_service(scraped):
    found = scraped.query('histogram_quantile(0.99, sum by (service, le) '
                          '(rate(hipflask_http_request_duration_seconds_bucket[1m])))')
    latencies = {entry["metric"]["service"]: float(entry["value"][1]) for entry in found}
    assert set(latencies) >= set(FAMILIES)
    assert all(0 < latencies[name] < 10 for name in FAMILIES), latencies


@pytest.mark.native_only
def test_promql_gives_the_volume_free_bytes_per_service(scraped):
    found = scraped.query("hipflask_volume_free_bytes")
    free = {entry["metric"]["service"]: float(entry["value"][1]) for entry in found}
    assert set(free) == set(FAMILIES) and all(value > 0 for value in free.values())


@pytest.mark.native_only
def test_the_gateway_figures_come_from_the_diagnostic_service(scraped):
    found = scraped.query("hipflask_gateway_requests_total")
    assert found and float(found[0]["value"][1]) > 0


@pytest.mark.native_only
def test_every_dashboard_panel_query_returns_data(scraped):
    dashboard = json.loads((Path(__file__).resolve().parents[2] / ROOT_DASHBOARD).read_text())
    empty = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            if not scraped.query(target["expr"]):
                empty.append(panel["title"])
    assert empty == []


@pytest.mark.native_only
def test_a_killed_service_goes_down_and_its_alert_becomes_pending(stack, scraped):
    stack.kill("render")
    try:
        wait_until(lambda: scraped.query('up{service="render"} == 0'), 30, "render's target to go down")
        wait_until(lambda: scraped.query('ALERTS{alertname="HipflaskServiceDown", service="render"}'), 30,
                   "HipflaskServiceDown to be pending for render")
    finally:
        stack.start("render")
    wait_until(lambda: scraped.query('up{service="render"} == 1'), 30, "render's target to come back")


@pytest.mark.compose_only
@pytest.mark.slow
def test_the_monitoring_profile_finds_every_store_replica_by_dns(stack):
    port = free_port()
    stack.env["PROMETHEUS_PORT"] = str(port)
    url = f"http://127.0.0.1:{port}"
    try:
        stack.run("--profile", "monitoring", "up", "-d", "--no-recreate", "--wait", "--scale", "store=3",
                  "prometheus", "store")

        def three_store_targets_up():
            body = requests.get(f"{url}/api/v1/targets", timeout=5).json()
            store = [target for target in body["data"]["activeTargets"] if target["labels"].get("service") == "store"]
            return len(store) == 3 and all(target["health"] == "up" for target in store) and store
        wait_until(three_store_targets_up, 90, "three store targets up in Prometheus", interval=1)

        def targets_up_per_service():
            up = requests.get(f"{url}/api/v1/query", timeout=5,
                              params={"query": 'count by (service) (up{job="hipflask"} == 1)'}).json()["data"]["result"]
            return {entry["metric"]["service"]: entry["value"][1] for entry in up}
        expected = {"diagnostic": "1", "store": "3", "kv": "1", "fs": "1", "render": "1", "events": "1"}
        wait_until(lambda: targets_up_per_service() == expected, 60, f"every target up: {expected}", interval=1)
    finally:
        stack.run("--profile", "monitoring", "rm", "--stop", "--force", "prometheus", check=False)
        subprocess.run(["docker", "volume", "rm", "-f", f"{stack.project}_prometheus-data"], capture_output=True)
        stack.env.pop("PROMETHEUS_PORT", None)
        stack.scale("store", 1)


def store_requests_total(address: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families
    text = requests.get(f"http://{address}/_hipflask/metrics", timeout=5).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "hipflask_http_requests_total")


@pytest.mark.native_only
def test_counts_of_a_killed_worker_stay_in_the_service_totals(stack):
    import os
    import signal
    targets = json.loads((stack.var / "run" / "prometheus" / "targets.json").read_text())
    address = next(entry["targets"][0] for entry in targets if entry["labels"]["service"] == "store")
    for _ in range(20):
        requests.get(f"{stack.url}/store/absent/1", timeout=5)
    before = store_requests_total(address)
    master = int((stack.var / "run" / "store.gunicorn.pid").read_text())
    workers = [int(pid) for pid in (Path(f"/proc/{master}/task/{master}/children").read_text().split())]
    os.kill(workers[0], signal.SIGKILL)
    wait_until(lambda: len(Path(f"/proc/{master}/task/{master}/children").read_text().split()) == len(workers)
               and workers[0] not in map(int, Path(f"/proc/{master}/task/{master}/children").read_text().split()),
               30, "gunicorn to replace the killed worker")
    assert store_requests_total(address) >= before
