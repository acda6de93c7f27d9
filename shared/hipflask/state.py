"""The one typed state object of a hipflask app, and the accessors that reach it.

The factory puts an `AppState` on `app.extensions["hipflask"]` (where Flask keeps an extension's
state); code reaches it through `settings()`, `backplane()` and `state()`, never through string
keys. A service puts its storage on `state(app).storage` at start and reads it back through its
own typed accessor (`store.storage.current_store()`, `fs.storage.current_file_store()`, ...).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: gunicorn's master imports the package and should not load Flask or prometheus_client
    from flask import Flask

    from hipflask.access import Policy
    from hipflask.config import Settings
    from hipflask.redis_backplane import Backplane

EXTENSION = "hipflask"


@dataclass
class AppState:
    """What the factory builds for one app, and the service's own storage once its init ran."""

    settings: Settings
    backplane: Backplane
    user_header_environ_key: str  # the WSGI environ key of USER_HEADER_NAME (`HTTP_UID`)
    ready_checks: dict[str, Callable[[], Any]] = field(default_factory=dict)
    restarts: int | None = None  # how often this service was restarted (hipflask.uptime)
    access: Policy | None = None  # AUTH_MODE's access rule (hipflask.access)
    inline_prefixes: tuple[str, ...] = ()  # INLINE_PREFIXES (hipflask.user_content)
    namespace_count: Callable[[], int] | None = None  # the hipflask_namespaces gauge (hipflask.metrics)
    metric_sources: list[Callable[[], Iterable]] = field(default_factory=list)  # a service's scrape-time figures
    storage: Any = None  # the service's storage behind its interface
    service_settings: Any = None  # the service's own settings, when it keeps them apart from its storage


def state(app: Flask | None = None) -> AppState:
    """The state of `app`, by default of the app serving the current request."""
    if app is None:
        from flask import current_app  # loaded by the app long before; gunicorn's master never gets here
        app = current_app
    return app.extensions[EXTENSION]


def settings(app: Flask | None = None) -> Settings:
    """The settings every service shares (see hipflask.config.Settings)."""
    return state(app).settings


def backplane(app: Flask | None = None) -> Backplane:
    """The app's Redis backplane (cache and events; it fails open)."""
    return state(app).backplane
