"""hipflask.health: liveness and readiness routes with the service's own checks."""
import hipflask
from hipflask.health import add_ready_check


def test_live_answers_200_with_service_version_and_hostname(make_app):
    response = make_app().test_client().get("/_hipflask/live")
    assert response.status_code == 200
    body = response.get_json()
    assert isinstance(body.pop("uptime_seconds"), float)
    assert body == {"status": "ok", "service": "unit", "version": "unit-version", "hostname": "unit-host",
                    "restarts": None}


def test_live_and_ready_report_the_restart_count_the_supervisor_passes(make_app):
    client = make_app(HIPFLASK_RESTARTS="3").test_client()
    assert client.get("/_hipflask/live").get_json()["restarts"] == 3
    assert client.get("/_hipflask/ready").get_json()["restarts"] == 3


def test_ready_answers_200_when_every_check_passes(make_app, redis_url):
    app = make_app(REDIS_URL=redis_url)
    add_ready_check(app, "storage", lambda: True)
    response = app.test_client().get("/_hipflask/ready")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["failed"], body["redis"]) == ("ok", {}, "ok")


def test_ready_answers_503_naming_a_check_that_raises(make_app):
    app = make_app()
    add_ready_check(app, "storage", lambda: True)

    def disk():
        raise OSError("data volume is read-only")

    add_ready_check(app, "disk", disk)
    response = app.test_client().get("/_hipflask/ready")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "failed"
    assert body["failed"] == {"disk": "data volume is read-only"}


def test_ready_answers_503_naming_a_check_that_returns_false(make_app):
    app = make_app()
    add_ready_check(app, "schema", lambda: False)
    response = app.test_client().get("/_hipflask/ready")
    assert response.status_code == 503
    assert response.get_json()["failed"] == {"schema": "check returned false"}


def test_ready_names_the_exception_type_when_it_has_no_message(make_app):
    app = make_app()

    def silent():
        raise TimeoutError()

    add_ready_check(app, "upstream", silent)
    assert app.test_client().get("/_hipflask/ready").get_json()["failed"] == {"upstream": "TimeoutError"}


def test_redis_down_is_reported_but_does_not_make_the_service_unready(make_app):
    app = make_app()
    response = app.test_client().get("/_hipflask/ready")
    assert response.status_code == 200
    assert response.get_json()["redis"] == "unreachable"


def test_ready_reports_the_redis_failure_counts(make_app):
    app = make_app()
    hipflask.backplane(app).call("cache", lambda client: client.get("k"))
    assert app.test_client().get("/_hipflask/ready").get_json()["redis_failures"] == {"cache": 1}


def test_a_check_added_again_under_the_same_name_replaces_the_first(make_app):
    app = make_app()
    add_ready_check(app, "storage", lambda: False)
    add_ready_check(app, "storage", lambda: True)
    assert app.test_client().get("/_hipflask/ready").status_code == 200
