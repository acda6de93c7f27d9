"""The template storage and engine contract, without HTTP."""
import json
import os
import threading
import time

import pytest

from hipflask.errors import HipflaskError

from render.engine import TemplateFailed, TemplateMissing
from render.names import BadTemplateName, mimetype_for, split_name
from render.sandbox import Limits, json_finalize
from render.templates import Templates


def test_builtin_hello_html_renders_world_without_data(templates):
    rendered = templates.render("hello.html", {})
    assert b"<h3>Howdy World!</h3>" in rendered.body
    assert rendered.mimetype == "text/html"


def test_builtin_hello_json_renders_the_given_name(templates):
    rendered = templates.render("hello.json", {"name": "Ada"})
    assert json.loads(rendered.body) == {"message": "Hello Ada!"}
    assert rendered.is_json


def test_missing_template_raises_template_missing(templates):
    with pytest.raises(TemplateMissing):
        templates.render("nope.html", {})


@pytest.mark.parametrize("name", ["../x.html", "a/../../x.html", "/etc/passwd", "a//b.html", ".hidden",
                                  "a/.b/c.html", "a\\b.html", "a\x00b", "%2e%2e/x", "", "a/", "x" * 2000])
def test_split_name_refuses_names_that_could_leave_the_folders(name):
    with pytest.raises(BadTemplateName) as caught:
        split_name(name)
    assert caught.value.status == 400


def test_split_name_accepts_nested_names():
    assert split_name("emails/welcome.html") == ("emails", "welcome.html")


def test_syntax_error_names_template_and_line(local_templates):
    local_templates.user_dir.joinpath("broken.html").write_text("one\ntwo\n{% if %}\n")
    with pytest.raises(TemplateFailed) as caught:
        local_templates.render("broken.html", {})
    assert (caught.value.status, caught.value.code) == (422, "template_syntax")
    assert (caught.value.template, caught.value.line) == ("broken.html", 3)


def test_render_error_in_an_include_names_the_included_template_and_its_line(templates):
    templates.put("outer.html", "{% include 'inner.html' %}")
    templates.put("inner.html", "fine\n{{ 1 // 0 }}")
    with pytest.raises(TemplateFailed) as caught:
        templates.render("outer.html", {})
    assert (caught.value.template, caught.value.line) == ("inner.html", 2)


def test_put_then_render_uses_the_new_text(templates):
    assert templates.put("a.html", "v1 {{ x }}") is True
    assert templates.render("a.html", {"x": 1}).body == b"v1 1"
    assert templates.put("a.html", "v2 {{ x }}") is False
    assert templates.render("a.html", {"x": 1}).body == b"v2 1"


def test_same_size_rewrite_is_seen_by_the_next_render(templates):
    for text in ("AAAA", "BBBB", "CCCC"):
        templates.put("same.txt", text)
        assert templates.render("same.txt", {}).body == text.encode()


def test_put_with_syntax_error_keeps_the_old_template(templates):
    templates.put("keep.html", "old")
    with pytest.raises(TemplateFailed):
        templates.put("keep.html", "{% for %}")
    assert templates.render("keep.html", {}).body == b"old"


def test_put_with_unknown_filter_is_refused(templates):
    with pytest.raises(TemplateFailed) as caught:
        templates.put("f.html", "{{ x|nosuchfilter }}")
    assert caught.value.code == "template_syntax"


def test_put_leaves_no_temporary_files(local_templates):
    local_templates.put("sub/dir/t.html", "x")
    names = [name for _, _, files in os.walk(local_templates.user_dir) for name in files]
    assert sorted(names) == [".generation", "t.html"]


def test_put_over_a_folder_is_a_conflict(templates):
    templates.put("dir/t.html", "x")
    with pytest.raises(HipflaskError) as caught:
        templates.put("dir", "x")
    assert caught.value.status == 409


def test_put_below_a_template_is_a_conflict(templates):
    templates.put("page", "x")
    with pytest.raises(HipflaskError) as caught:
        templates.put("page/inner.html", "x")
    assert caught.value.status == 409
    assert templates.render("page", {}).body == b"x"


def test_delete_removes_a_user_template(templates):
    templates.put("gone.html", "x")
    templates.delete("gone.html")
    with pytest.raises(TemplateMissing):
        templates.render("gone.html", {})


def test_delete_of_a_builtin_is_forbidden(templates):
    with pytest.raises(HipflaskError) as caught:
        templates.delete("hello.html")
    assert caught.value.status == 403


def test_delete_of_a_missing_template_is_not_found(templates):
    with pytest.raises(HipflaskError) as caught:
        templates.delete("missing.html")
    assert caught.value.status == 404


def test_user_template_shadows_builtin_and_delete_brings_it_back(templates):
    templates.render("hello.html", {})
    templates.put("hello.html", "mine")
    assert templates.render("hello.html", {}).body == b"mine"
    assert b"World" in templates.render("hello.json", {}).body
    templates.delete("hello.html")
    assert b"Howdy World!" in templates.render("hello.html", {}).body


def test_a_write_by_another_replica_is_seen_by_the_next_render(tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    one, two = Templates(folder), Templates(folder)
    assert b"Howdy" in one.render("hello.html", {}).body
    two.put("hello.html", "from two")
    assert one.render("hello.html", {}).body == b"from two"
    two.delete("hello.html")
    assert b"Howdy" in one.render("hello.html", {}).body


def test_source_returns_the_unrendered_text_and_its_folder(templates):
    assert templates.source("hello.json") == ('{"message": "Hello {{ name|default(\'World\') }}!"}\n', "builtin")
    templates.put("hello.json", "{}")
    assert templates.source("hello.json") == ("{}", "user")


def test_list_names_user_and_builtin_templates(templates):
    templates.put("hello.html", "mine")
    templates.put("sub/page.txt", "x")
    assert templates.list() == [
        {"name": "hello.html", "folder": "user", "shadowed": False},
        {"name": "hello.html", "folder": "builtin", "shadowed": True},
        {"name": "hello.json", "folder": "builtin", "shadowed": False},
        {"name": "sub/page.txt", "folder": "user", "shadowed": False},
    ]


def test_version_changes_when_any_template_is_written(templates):
    templates.put("page.html", "{% include 'part.html' %}")
    templates.put("part.html", "a")
    before = templates.version("page.html")
    assert templates.version("page.html") == before
    templates.put("part.html", "b")
    assert templates.version("page.html") != before


def test_version_of_a_missing_template_changes_when_it_appears(local_templates):
    before = local_templates.version("later.html")
    local_templates.user_dir.joinpath("later.html").write_text("x")
    assert local_templates.version("later.html") != before


def test_concurrent_readers_see_whole_templates_only(templates):
    texts = ["A" * 30000, "B" * 40000]
    templates.put("big.txt", texts[0])
    stop = threading.Event()
    seen, errors = set(), []

    def read():
        while not stop.is_set():
            try:
                seen.add(templates.render("big.txt", {}).body.decode())
            except Exception as exc:
                errors.append(exc)
            time.sleep(0)  # let the writer have the GIL between renders

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    for index in range(20):
        templates.put("big.txt", texts[index % 2])
    stop.set()
    for reader in readers:
        reader.join()
    assert errors == []
    assert seen and seen <= set(texts)


def test_json_output_that_is_not_json_is_refused(templates):
    templates.put("bad.json", '{"a": {{ v }}}')
    with pytest.raises(TemplateFailed) as caught:
        templates.render("bad.json", {"v": "1, \"admin\": true"})
    assert caught.value.code == "invalid_json_output"


@pytest.mark.parametrize("value, printed", [
    ('say "hi"\\', 'say \\"hi\\"\\\\'),
    ("</script>&", "\\u003c/script\\u003e\\u0026"),
    ("line\nbreak\u2028", "line\\nbreak\\u2028"),
    ("\ud800", "\\ud800"),
    ("é😀", "é😀"),
    (None, "null"), (True, "true"), (3, "3"), (2.5, "2.5"), (float("nan"), "null"),
    (["a", "<"], '[\\"a\\", \\"\\u003c\\"]'),
])
def test_json_finalize_escapes_for_a_json_string(value, printed):
    assert json_finalize(value) == printed


@pytest.mark.parametrize("name, mimetype", [
    ("a.json", "application/json"), ("a.html", "text/html"), ("a.htm", "text/html"),
    ("a.txt", "text/plain"), ("a.csv", "text/csv"), ("a.css", "text/css"), ("a.unknownext", "text/plain"),
    ("A.JSON", "application/json"),
])
def test_mimetype_comes_from_the_extension(name, mimetype):
    assert mimetype_for(name) == mimetype


def test_range_over_the_limit_is_a_render_limit(templates):
    templates.put("r.html", "{% for i in range(1001) %}{% endfor %}")
    with pytest.raises(TemplateFailed) as caught:
        templates.render("r.html", {})
    assert (caught.value.code, caught.value.line) == ("render_limit", 1)
    assert "RENDER_MAX_RANGE" in caught.value.message


def test_limits_come_from_the_constructor(tmp_path):
    small = Templates(tmp_path, limits=Limits(max_output=10))
    small.put("t.txt", "{{ 'x' * 11 }}")
    with pytest.raises(TemplateFailed) as caught:
        small.render("t.txt", {})
    assert caught.value.code == "render_limit"


def test_ready_is_true_with_a_template_folder(templates):
    assert templates.ready() is True
