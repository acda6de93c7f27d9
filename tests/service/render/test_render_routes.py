"""Rendering over HTTP: the shipped templates, data, content types, JSONP, 404s, template text."""
import json

import pytest

from support import assert_error


def test_hello_html_without_data_greets_the_world(client):
    response = client.get("/render/hello.html")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "<h3>Howdy World!</h3>" in response.get_data(as_text=True)


def test_hello_html_with_a_name_from_the_query(client):
    assert "<h3>Howdy Ada!</h3>" in client.get("/render/hello.html?name=Ada").get_data(as_text=True)


def test_hello_html_with_a_name_from_a_form_post(client):
    assert "<h3>Howdy Ada!</h3>" in client.post("/render/hello.html", data={"name": "Ada"}).get_data(as_text=True)


def test_hello_html_with_a_name_from_a_json_body(client):
    assert "<h3>Howdy Ada!</h3>" in client.post("/render/hello.html", json={"name": "Ada"}).get_data(as_text=True)


def test_hello_html_autoescapes_the_request_data(client):
    body = client.get("/render/hello.html", query_string={"name": "<script>x</script>"}).get_data(as_text=True)
    assert "<script>" not in body
    assert "&lt;script&gt;x&lt;/script&gt;" in body


def test_hello_json_without_data(client):
    response = client.get("/render/hello.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"message": "Hello World!"}


def test_hello_json_with_a_name(client):
    assert client.get("/render/hello.json?name=Ada").get_json() == {"message": "Hello Ada!"}


def test_hello_json_with_a_json_body(client):
    assert client.post("/render/hello.json", json={"name": "Ada"}).get_json() == {"message": "Hello Ada!"}


def test_variables_not_given_render_empty(client, put):
    put("greet.txt", "Hello, {{name}}")
    assert client.get("/render/greet.txt").get_data(as_text=True) == "Hello, "


def test_query_numbers_are_converted(client, put):
    put("sum.txt", "{{ n + 1 }}")
    assert client.get("/render/sum.txt?n=41").get_data(as_text=True) == "42"


def test_json_body_that_is_not_an_object_is_refused(client):
    response = client.post("/render/hello.json", json=[1, 2])
    assert_error(response, 400, "bad_json")


def test_malformed_json_body_is_refused(client):
    response = client.post("/render/hello.json", data="{nope", content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("name, mimetype", [
    ("page.txt", "text/plain"), ("data.csv", "text/csv"), ("style.css", "text/css"),
    ("feed.xml", "application/xml"), ("thing.unknownext", "text/plain"), ("page.htm", "text/html"),
])
def test_content_type_comes_from_the_extension(client, put, name, mimetype):
    put(name, "x")
    assert client.get(f"/render/{name}").mimetype == mimetype


def test_text_responses_declare_utf8(client):
    assert client.get("/render/hello.html").headers["Content-Type"] == "text/html; charset=utf-8"


def test_xml_templates_autoescape(client, put):
    put("feed.xml", "<t>{{ v }}</t>")
    assert client.get("/render/feed.xml", query_string={"v": "<&>"}).get_data(as_text=True) == "<t>&lt;&amp;&gt;</t>"


def test_plain_text_templates_do_not_escape(client, put):
    put("plain.txt", "{{ v }}")
    assert client.get("/render/plain.txt", query_string={"v": "<&>"}).get_data(as_text=True) == "<&>"


def test_jsonp_wraps_a_json_template(client):
    response = client.get("/render/hello.json?name=Ada&callback=cb")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    assert response.get_data(as_text=True) == 'cb({"message": "Hello Ada!"});'


def test_jsonp_wraps_html_as_a_json_string(client):
    plain = client.get("/render/hello.html?name=Ada").get_data(as_text=True)
    response = client.get("/render/hello.html?name=Ada&callback=cb")
    text = response.get_data(as_text=True)
    assert response.mimetype == "application/javascript"
    assert text.startswith("cb(") and text.endswith(");")
    assert json.loads(text[3:-2]) == plain


def test_jsonp_with_a_form_post_callback(client):
    response = client.post("/render/hello.json", data={"name": "Ada", "callback": "cb"})
    assert response.get_data(as_text=True) == 'cb({"message": "Hello Ada!"});'


def test_callback_and_reload_cache_are_not_template_data(client, put):
    put("vars.txt", "[{{ callback }}|{{ _reload_cache }}]")
    response = client.get("/render/vars.txt?callback=cb&_reload_cache=1")
    assert json.loads(response.get_data(as_text=True)[3:-2]) == "[|]"


def test_unsafe_callback_is_refused(client):
    response = client.get("/render/hello.json?callback=alert(1)//")
    assert_error(response, 400, "bad_callback")


def test_missing_json_template_is_404_with_the_original_body(client):
    response = client.get("/render/nope.json")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.get_json() == {"message": "No Template nope.json"}


def test_missing_nested_json_template_names_the_path(client):
    assert client.get("/render/a/b/nope.json").get_json() == {"message": "No Template a/b/nope.json"}


def test_missing_html_template_is_a_short_html_404(client):
    response = client.get("/render/nope.html")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "No Template nope.html" in response.get_data(as_text=True)


def test_missing_template_name_is_escaped_in_the_html_404(client):
    body = client.get("/render/<b>.html").get_data(as_text=True)
    assert "<b>" not in body and "&lt;b&gt;" in body


def test_missing_template_under_jsonp_is_200(client):
    response = client.get("/render/nope.json?callback=cb")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == 'cb({"message":"No Template nope.json"});'


def test_template_shows_the_unrendered_text(client):
    response = client.get("/template/hello.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.get_data(as_text=True) == '{"message": "Hello {{ name|default(\'World\') }}!"}\n'
    assert response.headers["X-Template-Folder"] == "builtin"


def test_raw_template_shows_the_unrendered_text(client):
    assert "{{ name|default('World') }}" in client.get("/raw_template/hello.html").get_data(as_text=True)


def test_template_text_of_a_missing_template_is_404(client):
    response = client.get("/template/nope.html")
    assert_error(response, 404, "template_not_found")


def test_template_list_names_the_builtins(client):
    response = client.get("/template/")
    assert response.status_code == 200
    assert response.get_json() == [
        {"name": "hello.html", "folder": "builtin", "shadowed": False},
        {"name": "hello.json", "folder": "builtin", "shadowed": False},
    ]


def test_template_list_as_jsonp(client):
    assert client.get("/template/?callback=cb").get_data(as_text=True).startswith('cb([{"name":"hello.html"')


def test_head_of_a_render_has_no_body(client):
    response = client.head("/render/hello.html")
    assert response.status_code == 200
    assert response.get_data() == b""


def test_readiness_reports_the_template_folder(client):
    response = client.get("/_hipflask/ready")
    assert response.status_code == 200
    assert response.get_json()["failed"] == {}
