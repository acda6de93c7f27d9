"""The service apps, built for Sphinx's autoflask (no server, no Redis connection is made)."""
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("diagnostic", "store", "kv", "fs", "render", "events")
for name in SERVICES:
    sys.path.insert(0, str(ROOT / "services" / name))

_data = tempfile.mkdtemp(prefix="hipflask-docs-")


def _build(name):
    module = __import__(f"{name}.wsgi", fromlist=["build"])
    env = {**os.environ, "DATA_DIR": os.path.join(_data, name), "LOG_LEVEL": "WARNING"}
    return module.build(env)


diagnostic, store, kv, fs, render, events = (_build(name) for name in SERVICES)
