"""Routes of the events service: `GET /events`, the changes of the caller's namespace as Server-Sent Events."""
from __future__ import annotations

import queue
from collections.abc import Iterator

import redis
from flask import Blueprint, Response, request

from hipflask.access import namespace
from hipflask.errors import HipflaskError
from hipflask.state import state

from events import hangup, history
from events.fanout import Fanout, current_fanout
from events.subscription import Filters, Subscription

blueprint = Blueprint("events", __name__)
HEARTBEAT = b": heartbeat\n\n"


def _fanout() -> Fanout:
    return current_fanout()


@blueprint.before_request
def credentials_from_the_query():
    """EventSource cannot send headers: `?uid=` stands for the user header and `?access_token=` for
    `Authorization: Bearer`, then the library's one namespace rule decides as for any request."""
    environ = request.environ
    uid = request.args.get("uid")
    key = state().user_header_environ_key
    if uid is not None and not environ.get(key):
        environ[key] = uid
    token = request.args.get("access_token")
    if token and "Authorization" not in request.headers:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"


@blueprint.get("/events")
def events():
    """The caller's changes as ``text/event-stream``: replay after an id, then live.

    Each event: ``id:`` its Redis stream id, ``event:`` ``<family>.<action>`` (``message`` for
    messages), ``data:`` one JSON line. A ``reset`` event first means the events after the given id
    are gone (trimmed): refetch. Comments every EVENTS_HEARTBEAT_SECONDS keep proxies open.

    :query family: comma list of ``store``, ``kv``, ``fs``, ``template``, ``message``
    :query store: comma list of store names (store events)
    :query key_prefix: kv events of keys starting with it
    :query path_prefix: fs and template events of paths starting with it
    :query lastEventId: resume after this id (first connect; browsers send Last-Event-ID on reconnects)
    :query since: replay from this time (epoch milliseconds)
    :query uid: the namespace, for clients that cannot send the user header
    :reqheader Last-Event-ID: resume after this id
    :statuscode 200: the stream
    :statuscode 400: an unknown filter, a bad id or time
    :statuscode 503: this replica holds EVENTS_MAX_SUBSCRIBERS streams; ``Retry-After`` says when to retry
    """
    filters = Filters.parse(request.args)
    last_id = history.parse_event_id(request.headers.get("Last-Event-ID") or request.args.get("lastEventId"))
    since = history.parse_since(request.args.get("since"))
    fanout = _fanout()
    subscription = Subscription(namespace(), filters)
    fanout.subscribe(subscription)
    try:
        start = history.resume(fanout.client, last_id, since)
    except redis.RedisError:
        fanout.unsubscribe(subscription)
        raise HipflaskError(503, "redis_unavailable", "the event stream cannot be read now",
                            headers={"Retry-After": "2"}) from None
    hangup.watch(request.environ, subscription)
    response = Response(_stream(fanout, subscription, start), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"
    return response


def _stream(fanout: Fanout, subscription: Subscription, start: history.Resume) -> Iterator[bytes]:
    """retry, the reset, the replay, then live events; each id at most once, in stream order."""
    try:
        yield f"retry: {fanout.retry_ms}\n\n".encode()
        if start.reset is not None:
            yield start.reset
        sent = None
        if start.after is not None:
            sent = history.id_key(start.after)
            for event in history.replay(fanout.client, start.after):
                if subscription.wants(event):
                    yield event.chunk
                sent = event.key
        while subscription.open:
            try:
                live = subscription.queue.get(timeout=fanout.heartbeat)
            except queue.Empty:
                yield HEARTBEAT
                continue
            if live is None:  # hung up
                break
            event = live
            chunks = []
            while True:  # with every event queued meanwhile: one write for the reader's whole batch
                if sent is None or event.key > sent:  # else already sent by the replay
                    sent = event.key
                    chunks.append(event.chunk)
                try:
                    queued = subscription.queue.get_nowait()
                except queue.Empty:
                    break
                if queued is None:  # hung up: the loop ends with nothing more to write
                    break
                event = queued
            if chunks and subscription.open:
                yield b"".join(chunks)
    finally:
        fanout.unsubscribe(subscription)


@blueprint.get("/_hipflask/subscribers")
def subscribers():
    """This worker's streams (the service's own port only; the gateway does not route it).

    :statuscode 200: ``{"subscribers": n, "dropped": n, "max_subscribers": n, "position": "<id>"}``
    """
    fanout = _fanout()
    return {"subscribers": fanout.count(), "dropped": fanout.dropped, "max_subscribers": fanout.max_subscribers,
            "position": fanout.position}
