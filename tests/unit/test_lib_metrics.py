"""hipflask.metrics: request counts and latencies by route template, scrape-time gauges."""
from flask import Blueprint
from prometheus_client.parser import text_string_to_metric_families

import hipflask

blueprint = Blueprint("unit_metrics", __name__)


@blueprint.get("/things/<name>/<int:item_id>")
def thing(name, item_id):
    return {"name": name, "id": item_id}


def scrape(client) -> dict[tuple, float]:
    response = client.get("/_hipflask/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def requests_of(samples, route, status="200") -> float:
    key = ("hipflask_http_requests_total",
           tuple(sorted({"service": "unit", "route": route, "method": "GET", "status": status}.items())))
    return samples.get(key, 0.0)


def test_requests_are_counted_by_route_template_not_raw_path(make_app):
    client = make_app(blueprint).test_client()
    before = requests_of(scrape(client), "/things/<name>/<int:item_id>")
    client.get("/things/a/1")
    client.get("/things/b/2")
    samples = scrape(client)
    assert requests_of(samples, "/things/<name>/<int:item_id>") == before + 2
    assert not any("/things/a/1" in str(labels) for _, labels in samples)


def test_unmatched_paths_share_one_route_label(make_app):
    client = make_app(blueprint).test_client()
    before = requests_of(scrape(client), "<unmatched>", "404")
    client.get("/no/such/path/1")
    client.get("/no/such/path/2")
    assert requests_of(scrape(client), "<unmatched>", "404") == before + 2


def test_request_duration_histogram_counts_each_request(make_app):
    client = make_app(blueprint).test_client()
    key = ("hipflask_http_request_duration_seconds_count",
           (("method", "GET"), ("route", "/things/<name>/<int:item_id>"), ("service", "unit")))
    before = scrape(client).get(key, 0.0)
    client.get("/things/a/1")
    assert scrape(client)[key] == before + 1


def test_build_info_carries_the_version(make_app):
    samples = scrape(make_app(blueprint).test_client())
    assert samples[("hipflask_build_info", (("service", "unit"), ("version", "unit-version")))] == 1


def test_volume_free_bytes_and_data_bytes_describe_the_data_dir(make_app, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "file").write_bytes(b"x" * 1000)
    samples = scrape(make_app(blueprint).test_client())
    assert samples[("hipflask_volume_free_bytes", (("service", "unit"),))] > 0
    assert samples[("hipflask_volume_size_bytes", (("service", "unit"),))] >= \
        samples[("hipflask_volume_free_bytes", (("service", "unit"),))]
    assert samples[("hipflask_data_bytes", (("service", "unit"),))] == 1000


def test_redis_failures_are_counted_by_purpose(make_app):
    app = make_app(blueprint)
    client = app.test_client()
    key = ("hipflask_redis_failures_total", (("purpose", "cache"), ("service", "unit")))
    before = scrape(client).get(key, 0.0)
    hipflask.backplane(app).call("cache", lambda redis: redis.get("x"))
    samples = scrape(client)
    assert samples[key] == before + 1
    assert samples[("hipflask_redis_up", (("service", "unit"),))] == 0


def test_metrics_can_be_turned_off(make_app):
    client = make_app(blueprint, METRICS_ENABLED="false").test_client()
    assert client.get("/_hipflask/metrics").status_code == 404
