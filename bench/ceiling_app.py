"""The benchmark's bare-Flask ceilings: a Flask app that answers `ok` and does nothing else.

Behind the same gateway, under two settings (bench/stacks.py starts both):
    GET /_bench/flask       the services' own gunicorn settings (gthread, WORKERS x THREADS, TCP)
        python -m gunicorn -c python:hipflask.gunicorn_conf --pythonpath bench 'ceiling_app:app'
    GET /_bench/flask-best  the best settings for this machine: 2 x cores + 1 sync workers on a
                            unix socket, upstream keepalive (issue 19's "bare Flask (best settings)")
        python -m gunicorn --worker-class sync --workers 5 --bind unix:SOCKET --pythonpath bench 'ceiling_app:app'
Every request scenario of bench/run.py is compared with both.
"""
from flask import Flask

app = Flask(__name__)


@app.get("/_bench/flask")
@app.get("/_bench/flask-best")
def ok():
    """The least a Flask view can do.

    :statuscode 200: always
    """
    return "ok"
