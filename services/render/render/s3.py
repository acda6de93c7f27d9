"""Render's user templates on an S3-compatible object store (`TEMPLATE_BACKEND=s3`): the same
contract as the template folder (`render.backend`), so render keeps nothing on its own disk.

A user template is the object `<S3_PREFIX>templates/<name>` in `S3_BUCKET` (one PutObject: whole
or absent); the built-ins ship with the service, as on the local backend.

Every replica uses a change on its very next render without asking the object store each time:
after the store acknowledged a write or a delete, the writer replaces the templates' generation
in Redis (`hipflask:render:generation:<bucket>/<prefix>`, a random value), and each render reads
it once (one GET; when the key is missing, a first start or a Redis that lost its data, a new
random generation is set with `SET NX`, never an old one repeated). A compiled template stays in
use while the generation is the one it was loaded under; any change reloads what the next renders
use.

When Redis cannot be read, every render re-validates each template it uses against the object
store (a HEAD: the same ETag, or still no object), so changes are still used at once, only
slower; what was loaded before the outage is reloaded once Redis answers again (a write during
the outage could not move the generation). A compiled template is also re-validated after
`TEMPLATE_RECHECK_SECONDS`, which bounds how long a write whose generation update was lost (its
replica could not reach Redis while the others could) goes unseen.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import TemplateNotFound

from hipflask.redis_backplane import Backplane
from hipflask.s3 import ObjectBucket, S3Settings

from render.backend import TemplateLoader, not_deletable, path_conflict
from render.engine import TemplateFailed, TemplateMissing
from render.folders import BUILTIN_DIR, listing, template_names
from render.loader import FolderLoader
from render.names import BadTemplateName, split_name

log = logging.getLogger("hipflask.render.s3")
TEMPLATES = "templates"
GENERATION_KEY = "hipflask:render:generation:"
PURPOSE = "templates"
Token = tuple[int, bytes]


@dataclass
class Loaded:
    """Where a compiled template came from: its key, the object's ETag (None: no user object, the
    built-in was used), the generation it was loaded under, and when it was last known current."""

    key: str
    etag: str | None
    token: Token | None
    checked: float


class ObjectLoader(TemplateLoader):
    """Jinja loader over the user objects, then the built-in folder."""

    def __init__(self, store: S3Templates):
        self.store = store
        self.builtins = FolderLoader((store.builtin_dir,))
        self.user_prefix = f"s3://{store.objects.name}/{store.prefix}"

    def get_source(self, environment, template: str):
        try:
            segments = split_name(template)
        except BadTemplateName:
            raise TemplateNotFound(template) from None
        store = self.store
        token = store.token()
        key = store.key(segments)
        found = store.read(key)
        if found is not None:
            text, etag = found
            filename = self.user_prefix + template
        else:
            candidates = self.builtins.candidates(segments)
            builtin = self.builtins.read(candidates)
            if builtin is None:
                raise TemplateNotFound(template)
            text, etag, filename = builtin[2], None, candidates[0]
        loaded = Loaded(key, etag, token, time.monotonic())
        return text, filename, lambda: store.still_current(loaded)

    def name_for(self, filename: str) -> str | None:
        if filename.startswith(self.user_prefix):
            return filename[len(self.user_prefix):]
        return self.builtins.name_for(filename)


class S3Templates:
    """The user templates in one bucket and prefix, and the built-in folder (see the module
    docstring for how every replica sees every change)."""

    def __init__(self, settings: S3Settings, backplane: Backplane, builtin_dir: Path = BUILTIN_DIR,
                 recheck_seconds: float = 30.0):
        self.objects = ObjectBucket(settings)
        self.prefix = f"{settings.key_prefix}{TEMPLATES}/"
        self.builtin_dir = Path(os.path.abspath(builtin_dir))
        self.backplane = backplane
        self.recheck_seconds = recheck_seconds
        self.generation_key = f"{GENERATION_KEY}{settings.bucket}/{self.prefix}"
        self.loader = ObjectLoader(self)
        self._render = threading.local()
        self._outages = 0

    def key(self, segments: tuple[str, ...]) -> str:
        return self.prefix + "/".join(segments)

    # -- what changed

    def refresh(self) -> None:
        """Read the generation for this thread's render (None when Redis does not answer)."""
        def read(client) -> bytes:
            generation = client.get(self.generation_key)
            if generation is None:  # the first render ever, or a Redis that lost its data: a new generation
                client.set(self.generation_key, uuid.uuid4().hex, nx=True)
                generation = client.get(self.generation_key)
            return generation or b""

        generation = self.backplane.call(PURPOSE, read)
        if generation is None:
            self._outages += 1
            self._render.token = None
        else:
            self._render.token = (self._outages, generation)

    def token(self) -> Token | None:
        """The generation this thread's render runs under: None when Redis could not say."""
        return getattr(self._render, "token", None)

    def still_current(self, loaded: Loaded) -> bool:
        """True while `loaded` is what a fresh load would read."""
        current = self.token()
        if current is not None:
            if loaded.token != current:
                return False
            if time.monotonic() - loaded.checked < self.recheck_seconds:
                return True
        head = self.objects.head(loaded.key)
        if (head.get("ETag") if head else None) != loaded.etag:
            return False
        loaded.checked = time.monotonic()
        return True

    def _bump(self) -> None:
        if self.backplane.call(PURPOSE, lambda client: client.set(self.generation_key, uuid.uuid4().hex)) is None:
            log.warning("render: the template generation was not moved (Redis down); other replicas use "
                        "the change within TEMPLATE_RECHECK_SECONDS (%s s)", self.recheck_seconds)

    def version(self, name: str) -> str:
        """The generation (moved by any write here): a fresh value when Redis does not answer."""
        self.refresh()
        token = self.token()
        return uuid.uuid4().hex if token is None else token[1].decode()

    # -- reading

    def read(self, key: str) -> tuple[str, str | None] | None:
        """(text, ETag) of the user object `key`, None when there is none."""
        found = self.objects.get(key)
        if found is None:
            return None
        with found["Body"] as body:
            data = body.read()
        return data.decode("utf-8"), found.get("ETag")

    def source(self, name: str) -> tuple[str, str]:
        """(text, "user" or "builtin") of template `name`; TemplateMissing when there is none."""
        segments = split_name(name)
        try:
            found = self.read(self.key(segments))
        except UnicodeDecodeError:
            raise TemplateFailed(name, None, "the template is not valid UTF-8") from None
        if found is not None:
            return found[0], "user"
        builtin = self.loader.builtins.read(self.loader.builtins.candidates(segments))
        if builtin is None:
            raise TemplateMissing(name)
        return builtin[2], "builtin"

    def list(self) -> list[dict[str, Any]]:
        """Every template, sorted by name (see `TemplateStore.list`)."""
        names = []
        token = None
        while True:
            page = self.objects.call("list_objects_v2", Prefix=self.prefix,
                                     **({"ContinuationToken": token} if token else {}))
            for item in page.get("Contents", []):
                name = item["Key"][len(self.prefix):]
                try:
                    split_name(name)
                except BadTemplateName:
                    continue
                names.append(name)
            if not page.get("IsTruncated"):
                break
            token = page.get("NextContinuationToken")
        return listing(names, template_names(self.builtin_dir))

    # -- writing

    def write(self, name: str, text: str) -> bool:
        """Store `text` as user template `name` (one PutObject: whole or absent); True when new."""
        segments = split_name(name)
        key = self.key(segments)
        if self.objects.has_below(key):
            raise path_conflict(name)
        for depth in range(1, len(segments)):
            if self.objects.head(self.key(segments[:depth])) is not None:
                raise path_conflict(name)
        created = self.objects.head(key) is None
        self.objects.call("put_object", Key=key, Body=text.encode("utf-8"), ContentType="text/plain; charset=utf-8")
        self._bump()
        return created

    def delete(self, name: str) -> None:
        """Remove user template `name`. A built-in cannot be deleted (403); a missing one is 404."""
        segments = split_name(name)
        key = self.key(segments)
        if self.objects.head(key) is None:
            builtins = self.loader.builtins
            raise not_deletable(name, builtins.resolve(builtins.candidates(segments)) is not None)
        self.objects.call("delete_object", Key=key)
        self._bump()

    # -- health

    def ready(self) -> bool:
        """The bucket answers (made when missing) and the built-in templates are there."""
        self.objects.ensure()
        return (self.builtin_dir / "hello.html").is_file()
