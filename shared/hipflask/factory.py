"""The one app factory every hipflask service is built with."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import cast

from flask import Blueprint, Flask
from flask.json.provider import DefaultJSONProvider

from hipflask import access, bodies, error_responses, health, logs, metrics, openapi, request_hooks, user_content
from hipflask.config import Env, Settings
from hipflask.handlers import load_handlers
from hipflask.logs import configure as configure_logging
from hipflask.namespace import environ_key
from hipflask.redis_backplane import Backplane
from hipflask.state import EXTENSION, AppState


def create_app(service: str, blueprint: Blueprint | None = None, *,
               init: Callable[[Flask, Env], None] | None = None,
               handlers_dir: Path | None = None,
               environ: Mapping[str, str] | None = None) -> Flask:
    """Build a service's app: settings from the environment, logging, the error shape, whole
    request bodies (`hipflask.bodies`), the Redis backplane, the access rule, identity headers,
    page headers (these hooks fused into one before and one after, `hipflask.request_hooks`),
    health routes, the service's blueprint, `init(app, env)` for the service's own settings and
    storage, then the user handlers of `handlers_dir`.
    """
    env = Env(environ)
    settings = Settings.from_env(service, env)
    log_format = env.choice("LOG_FORMAT", "text", logs.FORMATS)
    configure_logging(service, settings.log_level, log_format, settings.hostname)

    app = request_hooks.App(service)
    cast(DefaultJSONProvider, app.json).sort_keys = False
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_size
    app.config["MAX_FORM_MEMORY_SIZE"] = settings.max_body_size
    app.extensions[EXTENSION] = AppState(settings, Backplane(settings.redis_url, settings.redis_timeout,
                                                             service=service),
                                         environ_key(settings.user_header))

    error_responses.init_app(app)
    bodies.init_app(app)
    access.init_app(app, env, settings.user_header)
    user_content.init_app(app, env)
    metrics.init_app(app, env.bool("METRICS_ENABLED", True))
    logs.init_app(app, log_requests=log_format == "json" and env.raw("ACCESS_LOG") is not None)

    app.wsgi_app = request_hooks.EveryResponseHeaders(  # type: ignore[method-assign]
        app.wsgi_app, [("X-HOSTNAME", settings.hostname), ("X-APP-VERSION", settings.version)])
    request_hooks.fuse(app)
    health.init_app(app, env)
    app.register_blueprint(openapi.blueprint)
    if blueprint is not None:
        app.register_blueprint(blueprint)
    if init is not None:
        init(app, env)
    if handlers_dir is not None:
        load_handlers(app, Path(env.str(f"{service.upper()}_HANDLERS_DIR", str(handlers_dir))))
    return app
