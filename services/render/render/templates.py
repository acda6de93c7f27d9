"""The render service's templates as the routes use them: the backend that holds them
(`TEMPLATE_BACKEND`: `render.folders` on a folder, `render.s3` on an object store, both behind
`render.backend`), the engine that renders them (`render.engine`), their names (`render.names`).

Each render first asks the backend what changed (`TemplateStore.refresh`), and a compiled template
is used only while it is still the one the backend would choose: a template written, replaced or
deleted by any replica is used by the very next render.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from hipflask.config import ConfigError, Env
from hipflask.health import add_ready_check
from hipflask.state import state

from render.backend import TemplateStore
from render.engine import Engine, Rendered
from render.folders import BUILTIN_DIR, TemplateFolders
from render.sandbox import Limits

log = logging.getLogger("hipflask.render")


def content_etag(text: str) -> str:
    """The ETag of a template's text: the same text has the same ETag on every replica."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Access:
    """Who may write templates and how long GET renders are cached."""

    token: str | None
    cache_seconds: int


class Templates:
    """The template backend and the two sandboxed environments that render its templates.

    `store` is a backend, or the user folder of a `TemplateFolders` (with `builtin_dir`)."""

    def __init__(self, store: TemplateStore | Path, builtin_dir: Path = BUILTIN_DIR, limits: Limits = Limits(),
                 cache_size: int = 400):
        self.store: TemplateStore = TemplateFolders(store, builtin_dir) if isinstance(store, Path) else store
        self.engine = Engine(self.store.loader, limits, cache_size)
        self.user_dir: Path | None = getattr(self.store, "user_dir", None)
        self.limits = limits

    def render(self, name: str, data: dict[str, Any]) -> Rendered:
        """Template `name` rendered with `data` (see `Engine.render` for the failures)."""
        self.store.refresh()
        return self.engine.render(name, data)

    def version(self, name: str) -> str:
        """A string that changes whenever `name`'s file or any template written here changes."""
        return self.store.version(name)

    def source(self, name: str) -> tuple[str, str]:
        """(text, "user" or "builtin") of template `name`; TemplateMissing when there is none."""
        return self.store.source(name)

    def list(self) -> list[dict[str, Any]]:
        """Every template, sorted by name (see `TemplateFolders.list`)."""
        return self.store.list()

    def put(self, name: str, text: str) -> bool:
        """Store `text` as user template `name` after compiling it; True when it is new.

        A syntax error raises TemplateFailed and leaves any previous template untouched. The
        write is atomic and durable when this returns.
        """
        self.engine.compile(name, text)
        return self.store.write(name, text)

    def delete(self, name: str) -> None:
        """Remove user template `name`. A built-in cannot be deleted (403); a missing one is 404."""
        self.store.delete(name)

    def ready(self) -> bool:
        """The backend can read and write templates and the built-in templates are there."""
        return self.store.ready()


def _folders(app: Flask, env: Env) -> TemplateStore:
    user_dir = Path(env.str("TEMPLATE_DIR", str(state(app).settings.data_dir / "templates")))
    try:
        user_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"TEMPLATE_DIR: cannot create the template folder {user_dir}: {exc}") from None
    return TemplateFolders(user_dir)


def _objects(app: Flask, env: Env) -> TemplateStore:
    from hipflask.s3 import ObjectStoreUnavailable, S3Settings

    from render.s3 import S3Templates

    store = S3Templates(S3Settings.from_env(env), state(app).backplane,
                        recheck_seconds=env.float("TEMPLATE_RECHECK_SECONDS", 30.0))
    try:
        store.objects.ensure()
    except ObjectStoreUnavailable as exc:  # not yet up (a cluster starting): readiness keeps asking
        log.warning("render: %s; starting anyway, not ready until it answers", exc.message)
    return store


def init_app(app: Flask, env: Env) -> None:
    """Read the render service's settings: its `Templates` (on the `TEMPLATE_BACKEND`) become the
    app's storage, the write token and the cache lifetime (`Access`) its service settings."""
    current = state(app)
    backend = env.choice("TEMPLATE_BACKEND", "local", ("local", "s3"))
    store = _objects(app, env) if backend == "s3" else _folders(app, env)
    limits = Limits(
        max_output=env.size("RENDER_MAX_OUTPUT", "1m"),
        max_range=env.int("RENDER_MAX_RANGE", 10000, minimum=1),
        timeout=env.float("RENDER_TIMEOUT", 2.0, minimum=0.001),
    )
    templates = Templates(store, limits=limits, cache_size=env.int("RENDER_TEMPLATE_CACHE_SIZE", 400, minimum=0))
    current.storage = templates
    current.service_settings = Access(token=env.secret("RENDER_TOKEN"),
                                      cache_seconds=env.int("RENDER_CACHE_SECONDS", 0, minimum=0))
    add_ready_check(app, "templates", templates.ready)


def current_templates() -> Templates:
    """The Templates of the app serving the current request."""
    return state().storage


def current_access() -> Access:
    """Who may write templates, and how long renders are cached, for the current request's app."""
    return state().service_settings
