"""The monitoring files in the repo: Prometheus configs and alert rules checked by promtool, the
rules' logic unit-tested by `promtool test rules`, the dashboard well formed."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from support import missing

MONITORING = Path(__file__).resolve().parents[2] / "monitoring"


@pytest.fixture(scope="module")
def promtool():
    binary = shutil.which("promtool")
    if not binary:
        missing("promtool is not installed (scripts/setup.sh --test installs Debian's prometheus)")
    return binary


def run(promtool, *args):
    result = subprocess.run([promtool, *args], cwd=MONITORING, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_alert_rules_pass_promtool_check(promtool):
    assert "SUCCESS: 6 rules found" in run(promtool, "check", "rules", "rules.yml")


def test_alert_rules_fire_as_their_unit_tests_expect(promtool):
    assert "SUCCESS" in run(promtool, "test", "rules", "rules.test.yml")


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.native.yml"])
def test_prometheus_configs_pass_promtool_check(promtool, config):
    run(promtool, "check", "config", config)


def test_dashboard_panels_each_have_a_prometheus_query():
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        assert panel["targets"] and all(target["expr"].strip() for target in panel["targets"]), panel["title"]
