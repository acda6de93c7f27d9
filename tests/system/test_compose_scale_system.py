"""Scaling in the compose stack: new replicas are reached without restarting the gateway."""
import pytest
import requests

from support import wait_until


@pytest.mark.compose_only
def test_scaled_diagnostic_replicas_are_both_reached(stack):
    stack.scale("diagnostic", 2)
    try:
        seen = set()

        def both_replicas_answered():
            seen.add(requests.get(f"{stack.url}/hello", timeout=5).headers["X-HOSTNAME"])
            return len(seen) >= 2
        wait_until(both_replicas_answered, 60, "two distinct X-HOSTNAME values", interval=0.1)
    finally:
        stack.scale("diagnostic", 1)
