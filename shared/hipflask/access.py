"""The one access rule: who a request is, which namespace it acts on, and whether it may.

Every request of every service passes `check()` (a before_request of the factory) before its view.

- AUTH_MODE=uid (the default, the original's contract): the Uid header names the namespace and
  nothing is checked.
- AUTH_MODE=token: the namespace comes from a bearer token (`Authorization: Bearer <jwt>`, or
  `?access_token=` on GET and HEAD). A request needs a scope: `read` for GET and HEAD, `write` for
  the other methods, unless its view declares one with `requires()`. An `admin` token may name any
  namespace with the Uid header. Without a token, a request may use a namespace AUTH_PUBLIC opens.
  Views marked `open_to_all` (liveness, readiness, the diagnostic summary) need nothing.

A missing or failing token answers 401 with `WWW-Authenticate: Bearer realm="hipflask"` and one
body whatever the cause; a valid token with too small a scope answers 403 `insufficient_scope`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, Response, current_app, request

from hipflask.config import ConfigError, Env
from hipflask.errors import HipflaskError
from hipflask.namespace import DEFAULT, environ_key, make_safe
from hipflask.state import state
from hipflask.tokens import ADMIN, RANK, READ, WRITE, InvalidToken, Keyring

log = logging.getLogger("hipflask.access")

OPEN = "open"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
QUERY_PARAMETER = "access_token"
REALM = 'Bearer realm="hipflask"'
_SCOPE_ATTRIBUTE = "hipflask_scope"
_OWN_SECRET_ATTRIBUTE = "hipflask_own_secret"


@dataclass(frozen=True)
class Identity:
    """Who a request is: its namespace, its scope (None in uid mode: no scopes), and where it came
    from (`uid`, `header`, `query`, `public`, `anonymous` or `route_secret`)."""

    namespace: str
    scope: str | None
    source: str
    expires: int | None = None


def requires(scope: str, own_secret: bool = False) -> Callable:
    """Declare the scope a view needs (`read`, `write`, `admin`) instead of its method's. With
    `own_secret`, a request without a valid token still reaches the view, which checks a secret of
    its own (RENDER_TOKEN) unless the identity already has `scope`."""
    if scope not in RANK:
        raise ValueError(f"unknown scope {scope!r}")

    def declare(view: Callable) -> Callable:
        setattr(view, _SCOPE_ATTRIBUTE, scope)
        setattr(view, _OWN_SECRET_ATTRIBUTE, own_secret)
        return view
    return declare


def open_to_all(view: Callable) -> Callable:
    """Declare a view that needs no token in any mode (ops routes)."""
    setattr(view, _SCOPE_ATTRIBUTE, OPEN)
    return view


def unauthorized() -> HipflaskError:
    return HipflaskError(401, "unauthorized", "a valid bearer token is required",
                         headers={"WWW-Authenticate": REALM})


def insufficient_scope(required: str) -> HipflaskError:
    return HipflaskError(403, "insufficient_scope", f"this request needs a token with the {required} scope",
                         headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{required}"'})


def parse_public(text: str) -> dict[str, str]:
    """AUTH_PUBLIC: `<namespace>:<read|write>,...` as {safe namespace: scope}."""
    opened = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, scope = item.rpartition(":")
        if not name or scope not in (READ, WRITE):
            raise ConfigError(f"AUTH_PUBLIC: expected <namespace>:<read|write>[,...], got {item[:60]!r}")
        opened[make_safe(name)] = scope
    return opened


class Policy:
    """The access settings of a service, read once at start-up."""

    def __init__(self, mode: str, keyring: Keyring, public: dict[str, str], user_header: str):
        self.mode = mode
        self.keyring = keyring
        self.public = public
        self.user_header_key = environ_key(user_header)

    @classmethod
    def from_env(cls, env: Env, user_header: str) -> Policy:
        mode = env.choice("AUTH_MODE", "uid", ("uid", "token"))
        keyring = Keyring.from_env(env)
        if mode == "token" and not keyring.keys:
            raise ConfigError("AUTH_MODE: token mode needs AUTH_KEYS, AUTH_KEYS_FILE or AUTH_PUBLIC_KEYS_FILE")
        return cls(mode, keyring, parse_public(env.str("AUTH_PUBLIC", "")), user_header)

    def named_namespace(self) -> str:
        """The namespace the user header names (uid mode's namespace; an admin's choice in token mode)."""
        return make_safe(request.environ.get(self.user_header_key))

    @staticmethod
    def _presented_token() -> tuple[str | None, str]:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip(), "header"
        if request.method in ("GET", "HEAD"):
            token = request.args.get(QUERY_PARAMETER)
            if token:
                return token, "query"
        return None, "anonymous"

    def identify(self, required: str, own_secret: bool = False) -> Identity:
        """The token-mode identity of the current request for a view needing `required`; raises 401/403."""
        token, source = self._presented_token()
        if required == OPEN:
            return self._lenient(token, source)
        if token is None:
            named = self.named_namespace()
            opened = self.public.get(named)
            if opened is not None and RANK[opened] >= RANK[required]:
                return Identity(named, opened, "public")
            if own_secret:
                return Identity(DEFAULT, None, "route_secret")
            raise unauthorized()
        try:
            claims = self.keyring.verify(token)
        except InvalidToken as exc:
            if own_secret:
                return Identity(DEFAULT, None, "route_secret")
            log.info("token refused on %s %s: %s", request.method, request.path, exc)
            raise unauthorized() from None
        if RANK[claims.scope] < RANK[required]:
            raise insufficient_scope(required)
        if claims.scope == ADMIN and request.environ.get(self.user_header_key):
            namespace = self.named_namespace()
        else:
            namespace = make_safe(claims.subject)
        return Identity(namespace, claims.scope, source, claims.expires)

    def _lenient(self, token: str | None, source: str) -> Identity:
        """An open view's identity: the token's when valid, anonymous otherwise (never raises)."""
        if token is not None:
            try:
                claims = self.keyring.verify(token)
                return Identity(make_safe(claims.subject), claims.scope, source, claims.expires)
            except (InvalidToken, HipflaskError):
                pass
        return Identity(DEFAULT, None, "anonymous")


def policy() -> Policy:
    access = state().access
    if access is None:  # the factory runs init_app before the app serves anything
        raise RuntimeError("hipflask.access.init_app has not run for this app")
    return access


def _declared(attribute: str, default):
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(view, attribute, default)


def required_scope() -> str:
    """The scope the current request needs: its view's declaration, else its method's."""
    declared = _declared(_SCOPE_ATTRIBUTE, None)
    if declared is not None:
        return declared
    return READ if request.method in SAFE_METHODS else WRITE


def check() -> None:
    """Resolve the request's identity once (cached on the request), refusing it when it may not proceed."""
    if "hipflask.identity" in request.environ or policy().mode == "uid":
        return  # uid mode checks nothing: the namespace is worked out when a view asks for it
    _resolve()


def _resolve() -> Identity:
    rule = policy()
    if rule.mode == "uid":
        found = Identity(rule.named_namespace(), None, "uid")
    else:
        found = rule.identify(required_scope(), _declared(_OWN_SECRET_ATTRIBUTE, False))
    request.environ["hipflask.identity"] = found
    request.environ["hipflask.namespace"] = found.namespace
    return found


def identity() -> Identity:
    """The current request's identity (resolved once, by `check` or on first use)."""
    found = request.environ.get("hipflask.identity")
    return found if found is not None else _resolve()


def _private_when_token_in_query(response: Response) -> Response:
    found = request.environ.get("hipflask.identity")
    if found is not None and found.source == "query":
        existing = response.headers.get("Cache-Control")
        response.headers["Cache-Control"] = "private" + (f", {existing}" if existing else "")
    return response


def init_app(app: Flask, env: Env, user_header: str) -> None:
    rule = state(app).access = Policy.from_env(env, user_header)
    if rule.mode == "uid":
        return  # uid mode checks nothing at the door, and no token comes in a query: no hook to run
    app.before_request(check)
    app.after_request(_private_when_token_in_query)


def namespace() -> str:
    """The current request's namespace (computed once per request): in uid mode the user header's,
    in token mode the token's."""
    cached = request.environ.get("hipflask.namespace")
    if cached is None:
        cached = identity().namespace
    return cached
