"""Safe by construction: JSON escaping, the sandbox, traversal, syntax errors, runaway renders."""
import json
import time

import pytest

import hipflask
from support import assert_error

HOSTILE = [
    'quote " inside',
    "back\\slash",
    "trailing backslash \\",
    "new\nline\r\ttab",
    "</script><script>alert(1)</script>",
    "unicode é ü 中文 😀",
    "line separators \u2028 \u2029",
    "nul \x00 and bell \x07",
    '", "admin": true, "x": "',
    "{{ 7 * 7 }}",
    "&<>'",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hello_json_stays_valid_json_for_hostile_query_values(client, value):
    response = client.get("/render/hello.json", query_string={"name": value})
    assert response.status_code == 200
    assert json.loads(response.get_data(as_text=True)) == {"message": f"Hello {value}!"}


@pytest.mark.parametrize("value", HOSTILE + ["lone surrogate \ud800"])
def test_hello_json_stays_valid_json_for_hostile_json_bodies(client, value):
    response = client.post("/render/hello.json", json={"name": value})
    assert response.status_code == 200
    assert json.loads(response.get_data(as_text=True)) == {"message": f"Hello {value}!"}


def test_json_output_never_contains_a_raw_script_end_tag(client):
    body = client.get("/render/hello.json", query_string={"name": "</script>"}).get_data(as_text=True)
    assert "</script>" not in body


@pytest.mark.parametrize("value", [{"nested": ['"', "\\"]}, ["a", "b"], 12, 2.5, True, None])
def test_json_template_stays_valid_for_any_json_value(client, put, value):
    put("any.json", '{"inside": "{{ v }}", "list": [{{ v|tojson }}]}')
    response = client.post("/render/any.json", json={"v": value})
    assert response.status_code == 200
    assert json.loads(response.get_data(as_text=True))["list"] == [value]


@pytest.mark.parametrize("value", HOSTILE + ["1, \"admin\": true", "1}"])
def test_value_outside_quotes_gives_valid_json_or_422_never_broken_json(client, put, value):
    put("bare.json", '{"n": {{ n }}}')
    response = client.get("/render/bare.json", query_string={"n": value})
    if response.status_code == 200:
        assert set(json.loads(response.get_data(as_text=True))) == {"n"}
    else:
        assert_error(response, 422, "invalid_json_output", extra=("template", "line"))


def test_numbers_print_as_json_numbers_in_json_templates(client, put):
    put("num.json", '{"n": {{ n }}, "f": {{ f }}, "b": {{ b }}}')
    response = client.post("/render/num.json", json={"n": 3, "f": 1.5, "b": False})
    assert response.get_json() == {"n": 3, "f": 1.5, "b": False}


@pytest.mark.parametrize("expression", [
    "''.__class__.__mro__",
    "''.__class__.__mro__[1].__subclasses__()",
    "().__class__.__base__.__subclasses__()",
    "cycler.__init__.__globals__",
    "joiner.__init__.__globals__",
    "namespace.__init__.__globals__",
    "lipsum.__globals__",
    "range.__self__",
    "self._TemplateReference__context",
    "''|attr('__class__')|attr('__mro__')",
    "'{0.__class__.__mro__}'.format('')",
    "[].__class__.__subclasses__",
    "config",
    "request.environ",
])
def test_sandbox_keeps_python_internals_out_of_reach(client, put, expression):
    put("escape.html", f"[{{{{ {expression} }}}}]")
    response = client.get("/render/escape.html")
    assert response.status_code in (200, 422)
    if response.status_code == 200:
        assert response.get_data(as_text=True) == "[]"
    else:
        assert response.get_json()["template"] == "escape.html"


def test_sandbox_refuses_mutating_lists(client, put):
    put("mutate.html", "{% set l = [1] %}{{ l.append(2) }}{{ l }}")
    assert client.get("/render/mutate.html").status_code == 422


SECRET = "TOP-SECRET-CONTENT"


@pytest.fixture
def secret(app):
    """A file next to the template folder, inside the data dir: reachable by `../` if anything leaked."""
    path = hipflask.settings(app).data_dir / "secret.html"
    path.parent.mkdir(parents=True, exist_ok=True)  # TEMPLATE_BACKEND=s3 makes no folder there
    path.write_text(SECRET)
    yield path
    path.unlink()


@pytest.mark.parametrize("url", [
    "/render/../secret.html",
    "/render/%2e%2e/secret.html",
    "/render/%2E%2E%2Fsecret.html",
    "/render/..%2fsecret.html",
    "/render/sub/../../secret.html",
    "/render/%252e%252e/secret.html",
    "/render/..%5csecret.html",
    "/render/.%2e/secret.html",
    "/render//etc/passwd",
    "/render/%2Fetc%2Fpasswd",
    "/render/secret.html%00.json",
    "/render/.hidden.html",
    "/template/../secret.html",
    "/raw_template/%2e%2e/secret.html",
])
def test_traversal_is_refused_and_never_read(client, secret, url):
    response = client.get(url)
    assert response.status_code in (400, 404)
    assert SECRET not in response.get_data(as_text=True)
    assert "root:" not in response.get_data(as_text=True)


def test_include_outside_the_folders_is_a_render_error(client, put, secret):
    put("sneaky.html", "{% include '../secret.html' %}")
    response = client.get("/render/sneaky.html")
    assert response.status_code == 422
    assert SECRET not in response.get_data(as_text=True)


def test_include_by_absolute_path_is_a_render_error(client, put):
    put("abs.html", "{% include '/etc/passwd' %}")
    response = client.get("/render/abs.html")
    assert response.status_code == 422
    assert "root:" not in response.get_data(as_text=True)


def test_include_name_from_request_data_cannot_leave_the_folders(client, put, secret):
    put("dyn.html", "{% include page %}")
    response = client.get("/render/dyn.html", query_string={"page": "../secret.html"})
    assert response.status_code == 422
    assert SECRET not in response.get_data(as_text=True)


def test_put_outside_the_folder_is_refused_and_writes_nothing(client, auth, app):
    response = client.put("/template/%2e%2e/evil.html", data=b"x", headers=auth)
    assert response.status_code == 400
    assert not (hipflask.settings(app).data_dir / "evil.html").exists()


def test_syntax_error_is_422_with_template_line_and_message(client, app):
    hipflask.state(app).storage.user_dir.joinpath("broken.html").write_text("ok\nok\n{% for x in %}\n")
    response = client.get("/render/broken.html")
    assert response.status_code == 422
    body = response.get_json()
    assert (body["status"], body["code"], body["template"], body["line"]) == (422, "template_syntax", "broken.html", 3)
    assert body["message"].startswith("broken.html, line 3: ")
    assert len(body["eid"]) == 16


def test_render_error_is_422_with_the_line(client, put):
    put("div.html", "a\nb\n{{ 1 // n }}")
    body = client.get("/render/div.html?n=0").get_json()
    assert (body["code"], body["line"]) == ("template_error", 3)
    assert "division" in body["message"]


def test_put_with_syntax_error_is_422_with_the_line(client, auth):
    response = client.put("/template/bad.html", data=b"line\n{{ x", headers=auth)
    assert response.status_code == 422
    assert response.get_json()["line"] == 2


def test_range_over_the_limit_stops_with_a_clear_error(client, put):
    put("big.html", "{% for i in range(10**9) %}{{ i }}{% endfor %}")
    body = client.get("/render/big.html").get_json()
    assert body["code"] == "render_limit"
    assert "RENDER_MAX_RANGE" in body["message"]


def test_range_size_from_the_request_is_limited(client, put):
    put("n.html", "{% for i in range(n) %}.{% endfor %}")
    assert client.get("/render/n.html?n=1000").status_code == 200
    assert client.get("/render/n.html?n=1001").status_code == 422


def test_nested_loops_stop_at_the_timeout(client, put):
    put("slow.html", "{% for a in range(1000) %}{% for b in range(1000) %}{% for c in range(1000) %}"
                     "{% endfor %}{% endfor %}{% endfor %}")
    started = time.monotonic()
    body = client.get("/render/slow.html").get_json()
    assert time.monotonic() - started < 5
    assert body["code"] == "render_limit"
    assert "RENDER_TIMEOUT" in body["message"]


def test_exponential_macro_recursion_stops_at_the_timeout(client, put):
    put("rec.html", "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(60) }}")
    started = time.monotonic()
    assert client.get("/render/rec.html").get_json()["code"] == "render_limit"
    assert time.monotonic() - started < 5


def test_infinite_macro_recursion_is_a_render_limit(client, put):
    put("inf.html", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")
    assert client.get("/render/inf.html").get_json()["code"] == "render_limit"


def test_output_over_the_limit_stops_with_a_clear_error(client, put):
    put("huge.txt", "{% for i in range(1000) %}{{ 'y' * 1000 }}{% endfor %}")
    body = client.get("/render/huge.txt").get_json()
    assert body["code"] == "render_limit"
    assert "RENDER_MAX_OUTPUT" in body["message"]


@pytest.mark.parametrize("expression", [
    "'x' * n", "[0] * n", "'%0*d' % (n, 1)", "'%099999999d' % 1", "'{:>{w}}'.format(1, w=n)",
    "'x'|center(n)", "'x'.ljust(n)", "'x'.zfill(n)", "('x' * 1000)|replace('', 'y' * 1000)",
    "('x' * 1000).replace('x', 'y' * 1000)", "'a\\nb'|indent(n)",
    "9 ** n", "('x' * 60000) ~ ('x' * 60000)", "('x' * 60000) + ('x' * 60000)",
    "('x' * 60000).join(['a', 'b', 'c'])", "['a', 'b', 'c']|join('x' * 60000)", "lipsum(n)",
])
def test_size_blowups_are_refused_before_they_are_built(client, put, expression):
    put("blow.txt", f"{{{{ {expression} }}}}")
    started = time.monotonic()
    response = client.get("/render/blow.txt?n=999999999")
    assert_error(response, 422, "render_limit", extra=("template", "line"))
    assert time.monotonic() - started < 2


def test_doubling_a_string_in_a_loop_stops_at_the_output_limit(client, put):
    put("double.txt", "{% set ns = namespace(s='xxxxxxxxxx') %}"
                      "{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}")
    assert client.get("/render/double.txt").get_json()["code"] == "render_limit"


def test_loops_still_know_their_length_and_last_item(client, put):
    put("loop.txt", "{% for i in items %}{{ loop.index }}/{{ loop.length }}{% if loop.last %}!{% endif %} "
                    "{% endfor %}")
    assert client.post("/render/loop.txt", json={"items": [5, 6, 7]}).get_data(as_text=True) == "1/3 2/3 3/3! "


def test_recursive_loops_still_work(client, put):
    put("tree.txt", "{% for n in tree recursive %}({{ n.name }}{{ loop(n.kids) }}){% endfor %}")
    tree = [{"name": "a", "kids": [{"name": "b", "kids": []}]}, {"name": "c", "kids": []}]
    assert client.post("/render/tree.txt", json={"tree": tree}).get_data(as_text=True) == "(a(b))(c)"


def test_a_render_error_never_answers_500(client, put):
    put("type.html", "{% for x in 5 %}{% endfor %}{{ none.attr.deeper }}")
    assert client.get("/render/type.html").status_code == 422
