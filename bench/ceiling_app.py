"""The benchmark's bare-Flask ceiling: a Flask app that answers `ok` and does nothing else.

Run under the services' own gunicorn settings, behind the same gateway (`GET /_bench/flask`):
    python -m gunicorn -c python:hipflask.gunicorn_conf --pythonpath bench 'ceiling_app:app'
Every request scenario of bench/run.py is compared with it.
"""
from flask import Flask

app = Flask(__name__)


@app.get("/_bench/flask")
def ok():
    """The least a Flask view can do.

    :statuscode 200: always
    """
    return "ok"
