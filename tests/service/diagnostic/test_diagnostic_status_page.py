"""The status page: /diagnostic for a browser, its assets, and the rates behind its charts."""
import hipflask


def test_browsers_get_the_status_page_with_a_strict_csp(client):
    response = client.get("/diagnostic", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    page = response.get_data(as_text=True)
    assert '<script src="/diagnostic/assets/status.js"' in page
    assert "http://" not in page and "https://" not in page  # no external asset


def test_status_page_assets_are_served_by_the_service(client):
    script = client.get("/diagnostic/assets/status.js")
    assert script.status_code == 200
    assert "application/health+json" in script.get_data(as_text=True)
    assert client.get("/diagnostic/assets/status.css").status_code == 200


def test_jsonp_callback_keeps_the_original_answer_even_from_a_browser(client):
    response = client.get("/diagnostic?callback=cb", headers={"Accept": "text/html"})
    assert response.mimetype == "application/javascript"


def test_rates_are_a_list_of_points(client):
    first = client.get("/diagnostic/rates")
    assert first.status_code == 200
    assert first.get_json() == []  # one sample: no rate yet


def test_rates_are_sampled_while_the_page_asks(build_app):
    from support import wait_until

    from diagnostic.wsgi import build
    app = build_app(build, DIAGNOSTIC_TARGETS="", DIAGNOSTIC_CACHE_SECONDS="0")
    history = hipflask.state(app).service_settings.rates
    history.interval = 0.05
    client = app.test_client()
    assert wait_until(lambda: client.get("/diagnostic/rates").get_json(), 10, "a rate point")[0]["rates"] == {}
