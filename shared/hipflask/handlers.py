"""User handlers: every `*.py` but `__init__.py` in a service's `handlers/` folder, loaded at start.

A handler file gets the service's Flask app as the global `app` before it runs, as in the
original (`@app.route("/hello")`), so a user extends a service by dropping in a file.
"""
from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

from flask import Flask

log = logging.getLogger("hipflask.handlers")


def load_handlers(app: Flask, folder: Path) -> list[str]:
    """Run every handler file of `folder` (sorted by name) with `app` in its globals."""
    loaded: list[str] = []
    if not folder.is_dir():
        return loaded
    for path in sorted(folder.glob("*.py")):
        if path.name == "__init__.py":
            continue
        name = f"hipflask_handlers.{app.name}.{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:  # never for a .py file
            raise ImportError(f"cannot load the handler file {path}")
        module = importlib.util.module_from_spec(spec)
        module.__dict__["app"] = app
        sys.modules[name] = module
        spec.loader.exec_module(module)
        loaded.append(path.name)
    if loaded:
        log.info("loaded handlers %s from %s", ", ".join(loaded), folder)
    return loaded
