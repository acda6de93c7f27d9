import pytest

import hipflask
from sse_client import Subscriber

from events.wsgi import build


@pytest.fixture
def app(build_app):
    app = build_app(build, EVENTS_HEARTBEAT_SECONDS="0.1", EVENTS_RETRY_MS="1500")
    yield app
    hipflask.state(app).storage.stop()


@pytest.fixture
def store_client(build_app):
    """A real store service on the same Redis: its writes are the events."""
    from store.wsgi import build as build_store
    return build_app(build_store).test_client()


@pytest.fixture
def subscribe(client):
    """subscribe(query="", headers=None): a Subscriber on GET /events; closed at the end of the test."""
    opened = []

    def open_stream(query: str = "", headers: dict | None = None) -> Subscriber:
        response = client.get(f"/events{query}", headers=headers or {}, buffered=False)
        assert response.status_code == 200, response.get_data(as_text=True)
        subscriber = Subscriber(response.response, on_close=response.close)
        opened.append(subscriber)
        return subscriber

    yield open_stream
    for subscriber in opened:
        subscriber.close()
