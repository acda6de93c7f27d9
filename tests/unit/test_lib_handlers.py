"""hipflask.handlers: user handler files dropped into a service's handlers folder."""
import pytest

from hipflask.handlers import load_handlers

HELLO = '''
@app.route("/hello", methods=["GET"])
def howdy():
    return "World!"
'''


@pytest.fixture
def handlers(tmp_path):
    folder = tmp_path / "handlers"
    folder.mkdir()
    return folder


def test_handler_file_gets_the_app_and_its_routes_are_served(make_app, handlers):
    (handlers / "hello.py").write_text(HELLO)
    client = make_app(handlers_dir=handlers).test_client()
    assert client.get("/hello").get_data(as_text=True) == "World!"


def test_every_py_file_is_loaded_in_name_order(make_app, handlers):
    for name in ("b_second.py", "a_first.py"):
        (handlers / name).write_text(f'app.extensions.setdefault("unit.loaded", []).append("{name}")\n')
    app = make_app(handlers_dir=handlers)
    assert app.extensions["unit.loaded"] == ["a_first.py", "b_second.py"]


def test_init_py_is_not_loaded(make_app, handlers):
    (handlers / "__init__.py").write_text('raise RuntimeError("__init__.py must not be loaded")\n')
    (handlers / "hello.py").write_text(HELLO)
    assert make_app(handlers_dir=handlers).test_client().get("/hello").status_code == 200


def test_files_that_are_not_py_are_ignored(make_app, handlers):
    (handlers / "notes.txt").write_text("not python")
    (handlers / "hello.py.bak").write_text('raise RuntimeError("backup must not be loaded")\n')
    assert load_handlers(make_app(), handlers) == []


def test_load_handlers_returns_the_loaded_file_names(make_app, handlers):
    (handlers / "__init__.py").write_text("")
    (handlers / "hello.py").write_text(HELLO)
    (handlers / "extra.py").write_text("")
    assert load_handlers(make_app(), handlers) == ["extra.py", "hello.py"]


def test_a_missing_handlers_folder_loads_nothing(make_app, tmp_path):
    app = make_app(handlers_dir=tmp_path / "absent")
    assert app.test_client().get("/hello").status_code == 404


def test_service_handlers_dir_variable_overrides_the_default_folder(make_app, handlers, tmp_path):
    (handlers / "hello.py").write_text(HELLO)
    app = make_app(handlers_dir=tmp_path / "absent", UNIT_HANDLERS_DIR=str(handlers))
    assert app.test_client().get("/hello").get_data(as_text=True) == "World!"


def test_handler_routes_get_the_error_shape_and_identity_headers(make_app, handlers):
    (handlers / "boom.py").write_text('@app.get("/boom")\ndef boom():\n    raise ValueError("x")\n')
    response = make_app(handlers_dir=handlers).test_client().get("/boom", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert "eid" in response.get_json()
    assert response.headers["X-HOSTNAME"] == "unit-host"


def test_a_broken_handler_stops_the_app_from_starting(make_app, handlers):
    (handlers / "broken.py").write_text("def broken(:\n")
    with pytest.raises(SyntaxError):
        make_app(handlers_dir=handlers)
