"""hipflask.request_hooks: fused hooks run in Flask's order; only plain functions skip the async check."""
import pytest
from flask import Flask, g

from hipflask import request_hooks


def hooked_app() -> Flask:
    app = request_hooks.App("unit_hooks")
    g_calls: list[str] = []
    app.config["calls"] = g_calls
    for name in ("first", "second"):
        app.before_request(lambda name=name: g_calls.append(f"before {name}"))
        app.after_request(lambda response, name=name: (g_calls.append(f"after {name}"), response)[1])
    request_hooks.fuse(app)
    app.after_request(lambda response: (g_calls.append("after later"), response)[1])

    @app.get("/")
    def index():
        g_calls.append("view")
        return "ok"
    return app


def test_fused_hooks_run_in_flasks_order():
    app = hooked_app()
    assert app.test_client().get("/").status_code == 200
    assert app.config["calls"] == ["before first", "before second", "view", "after later", "after second",
                                   "after first"]


def test_a_fused_before_request_that_answers_stops_the_rest_and_the_view():
    app = request_hooks.App("unit_hooks")
    app.before_request(lambda: "refused")
    app.before_request(lambda: g.setdefault("reached", True) and None)
    request_hooks.fuse(app)

    @app.get("/")
    def index():
        return "view"
    with app.test_request_context("/"):
        assert app.full_dispatch_request().get_data(as_text=True) == "refused"
        assert "reached" not in g


def test_an_async_function_is_never_taken_for_a_plain_one():
    """An `async def` still goes to Flask's async handling every time (here: no `async` extra installed)."""
    app = request_hooks.App("unit_hooks")

    async def view():
        return "async"
    for _ in range(2):
        with pytest.raises(RuntimeError, match="async"):
            app.ensure_sync(view)


def test_every_response_headers_refuse_a_value_with_a_line_break():
    with pytest.raises(ValueError):
        request_hooks.EveryResponseHeaders(Flask("unit_hooks").wsgi_app, [("X-HOSTNAME", "host\r\nX-Evil: 1")])
