"""The live status page: `/diagnostic` for a browser. The page is a shell; `status.js` fills it
from `/diagnostic` (health+json) and `/diagnostic/rates`, and refreshes it in place. Everything
is served by this service (no external assets), under a CSP that allows only this origin.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, make_response, render_template, send_from_directory

from hipflask import access
from hipflask.state import state

blueprint = Blueprint("diagnostic_status_page", __name__, template_folder="templates")
ASSETS = Path(__file__).resolve().parent / "static"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
REFRESH_SECONDS = 3


def page():
    settings = state().settings
    response = make_response(render_template("diagnostic/status.html", version=settings.version,
                                             hostname=settings.hostname, refresh=REFRESH_SECONDS))
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Vary"] = "Accept"
    return response


@blueprint.get("/diagnostic/assets/<name>")
@access.open_to_all
def asset(name: str):
    """A file of the status page (``status.js``, ``status.css``).

    :statuscode 200: the file
    :statuscode 404: no such file
    """
    response = send_from_directory(ASSETS, name, max_age=300)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
