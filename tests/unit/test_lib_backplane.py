"""hipflask.redis_backplane.Backplane: Redis calls that fail open, count failures and back off."""
import logging

import redis

from hipflask.redis_backplane import Backplane


def refused(client):
    raise redis.ConnectionError("refused on purpose")


def test_call_returns_the_result_of_the_operation(redis_url, redis_client):
    backplane = Backplane(redis_url, 5.0)
    assert backplane.call("cache", lambda client: client.set("unit:key", "v")) is True
    assert redis_client.get("unit:key") == b"v"


def test_call_returns_none_and_counts_when_redis_is_unreachable(closed_redis_url):
    backplane = Backplane(closed_redis_url, 0.25)
    assert backplane.call("cache", lambda client: client.get("k")) is None
    assert backplane.failures == {"cache": 1}


def test_failures_are_counted_per_purpose(closed_redis_url):
    backplane = Backplane(closed_redis_url, 0.25)
    backplane.call("cache", lambda client: client.get("k"))
    backplane.call("events", lambda client: client.publish("c", "m"))
    assert backplane.failures == {"cache": 1, "events": 1}


def test_unreachable_redis_is_logged_as_a_warning_naming_the_purpose(closed_redis_url, caplog):
    caplog.set_level(logging.WARNING, logger="hipflask.backplane")
    Backplane(closed_redis_url, 0.25).call("events", lambda client: client.get("k"))
    assert any(record.levelname == "WARNING" and "events" in record.getMessage() for record in caplog.records)


def test_after_a_failure_calls_are_skipped_and_counted_during_the_back_off(redis_url):
    backplane = Backplane(redis_url, 5.0)
    ran = []
    backplane.call("cache", refused)
    assert backplane.call("cache", lambda client: ran.append(1)) is None
    assert ran == []
    assert backplane.failures["cache"] == 2


def test_ping_answers_true_when_redis_answers(redis_url):
    assert Backplane(redis_url, 5.0).ping() is True


def test_ping_answers_false_when_redis_is_unreachable(closed_redis_url):
    assert Backplane(closed_redis_url, 0.25).ping() is False


def test_ping_ignores_the_back_off(redis_url):
    backplane = Backplane(redis_url, 5.0)
    backplane.call("cache", refused)
    assert backplane.ping() is True


def test_error_reply_from_redis_is_counted_instead_of_raised(redis_url, redis_client):
    redis_client.set("unit:string", "x")
    backplane = Backplane(redis_url, 5.0)
    assert backplane.call("events", lambda client: client.xadd("unit:string", {"a": "b"})) is None
    assert backplane.failures["events"] == 1
