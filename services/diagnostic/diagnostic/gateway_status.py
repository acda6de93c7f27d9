"""The gateway's own figures in the diagnostic service's metrics: nginx's stub_status, converted.

The gateway serves stub_status on a listener that is never published (GATEWAY_STATUS_URL; compose:
`gateway:8081`, natively a loopback port). Converting it here keeps one scrape target kind and
needs no exporter process or image.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import requests
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

_STATUS = re.compile(r"Active connections:\s*(\d+).*?(\d+)\s+(\d+)\s+(\d+)\s*"
                     r"Reading:\s*(\d+)\s*Writing:\s*(\d+)\s*Waiting:\s*(\d+)", re.DOTALL)


def parse_stub_status(text: str) -> dict[str, int] | None:
    match = _STATUS.search(text)
    if match is None:
        return None
    names = ("active", "accepted", "handled", "requests", "reading", "writing", "waiting")
    return dict(zip(names, map(int, match.groups())))


class GatewayStatus:
    def __init__(self, url: str | None, timeout: float):
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False

    def figures(self) -> dict[str, int] | None:
        if self.url is None:
            return None
        try:
            response = self.session.get(self.url, timeout=self.timeout)
        except requests.RequestException:
            return None
        return parse_stub_status(response.text) if response.status_code == 200 else None

    def collect(self) -> Iterable:
        if not self.url:
            return
        figures = self.figures()
        up = GaugeMetricFamily("hipflask_gateway_up", "1 when the gateway's stub_status answers")
        up.add_metric([], 0 if figures is None else 1)
        yield up
        if figures is None:
            return
        connections = GaugeMetricFamily("hipflask_gateway_connections", "Client connections of the gateway now",
                                        labels=["state"])
        for state in ("active", "reading", "writing", "waiting"):
            connections.add_metric([state], figures[state])
        yield connections
        for name, key, text in (("hipflask_gateway_connections_accepted", "accepted", "Connections accepted"),
                                ("hipflask_gateway_connections_handled", "handled", "Connections handled"),
                                ("hipflask_gateway_requests", "requests", "Requests the gateway received")):
            family = CounterMetricFamily(name, text)
            family.add_metric([], figures[key])
            yield family
