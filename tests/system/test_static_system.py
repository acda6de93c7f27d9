"""The gateway serves STATIC_DIR at /static/ itself, with caching headers."""
import requests


def test_static_file_is_served_with_etag_last_modified_and_max_age(stack):
    stack.put_static("site.css", b"body { color: teal }\n")
    response = requests.get(f"{stack.url}/static/site.css")
    assert response.status_code == 200
    assert response.content == b"body { color: teal }\n"
    assert response.headers["Content-Type"].startswith("text/css")
    assert response.headers["ETag"]
    assert response.headers["Last-Modified"]
    assert "max-age=3600" in response.headers["Cache-Control"]


def test_static_file_revalidates_with_304(stack):
    stack.put_static("app.js", b"console.log(1)\n")
    etag = requests.get(f"{stack.url}/static/app.js").headers["ETag"]
    assert requests.get(f"{stack.url}/static/app.js", headers={"If-None-Match": etag}).status_code == 304
