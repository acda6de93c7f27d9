"""The kv storage contract: values by key per namespace, whatever backend keeps them.

`KVStorage` is the interface the routes use; `kv.sqlite` (one SQLite file per namespace, the
default) and `kv.postgres` implement it, and `kv.backends` picks one from the configuration.

Contract of every `KVStorage` (every method takes the namespace first, as `hipflask.namespace` makes it):
- A key is a non-empty string of at most MAX_KEY_BYTES UTF-8 bytes, without NUL and without `.`
  or `..` segments (segments are separated by `/`); any other key raises `BadKey` (400).
- `put` replaces the whole value of a key in one transaction: a reader sees the old value or the
  new one, never a mix. Each write gets a fresh ETag. A value declared JSON (`application/json`
  or `application/...+json`) must be valid UTF-8 JSON nested at most `max_json_depth` levels
  (`InvalidJson` or `hipflask.json_depth.TooDeep`, 400); a value longer than
  `max_value_size` raises `ValueTooLarge` (413). Nothing is stored when `put` raises.
- Conditions (`if_match`, `if_none_match`) are a collection of ETags or `ANY` (hipflask.conditional);
  they are checked with `hipflask.conditional.check` inside the write transaction, so of two
  writers holding the same ETag exactly one succeeds and the other gets `PreconditionFailed` (412).
- A value with a time to live reads as missing once it expires; expired values are deleted by
  the next write to the namespace.
- Reads never create anything.
- `keys(prefix)` scans the key index from `prefix` to the first string after every string that
  starts with it, so its cost grows with the keys under the prefix, not with the namespace.
- Every acknowledged write is durable before the call returns.
"""
from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from hipflask import json_depth
from hipflask.errors import HipflaskError
from hipflask.state import state

MAX_KEY_BYTES = 1024


class BadKey(HipflaskError):
    def __init__(self, message: str):
        super().__init__(400, "bad_key", message)


class InvalidJson(HipflaskError):
    def __init__(self):
        super().__init__(400, "bad_json", "the body is declared JSON but is not valid JSON")


class ValueTooLarge(HipflaskError):
    def __init__(self, limit: int):
        super().__init__(413, "too_large", f"a value may hold at most {limit} bytes (KV_MAX_VALUE_SIZE)")


class Item(NamedTuple):
    key: str
    value: bytes
    content_type: str
    etag: str
    modified: int  # epoch milliseconds
    expires: int | None  # epoch milliseconds


class Entry(NamedTuple):
    """A key's metadata, as listed."""
    key: str
    content_type: str
    size: int
    etag: str
    modified: int
    expires: int | None


def is_json_type(content_type: str) -> bool:
    """True for `application/json` and `application/<anything>+json`, parameters ignored."""
    mimetype = content_type.partition(";")[0].strip().lower()
    return mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json"))


def check_key(key: str, prefix: bool = False) -> None:
    """Raise BadKey unless `key` is a valid key (or, with `prefix`, the empty string or a key prefix)."""
    if not key and not prefix:
        raise BadKey("the key is empty")
    if "\x00" in key:
        raise BadKey("a key cannot contain NUL")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise BadKey("a key must be valid Unicode text") from None
    if size > MAX_KEY_BYTES:
        raise BadKey(f"a key is at most {MAX_KEY_BYTES} bytes long")
    if "." in key and any(segment in (".", "..") for segment in key.split("/")):
        raise BadKey("a key cannot contain . or .. segments")


def after_prefix(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix`; None when there is none."""
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if code <= 0x10FFFF:
            if 0xD800 <= code <= 0xDFFF:  # surrogates are not text; the next character is U+E000
                code = 0xE000
            return "".join(chars) + chr(code)
    return None


def check_json(value: bytes, max_depth: int) -> None:
    def reject(constant: str):
        raise ValueError(constant)
    try:
        json_depth.loads(value.decode("utf-8"), max_depth, parse_constant=reject)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidJson() from None


class KVStorage:
    """The values of every namespace. Implementations: `kv.sqlite.KVStore`, `kv.postgres.PostgresKV`."""

    max_value_size: int
    max_json_depth: int = json_depth.DEFAULT_MAX_JSON_DEPTH

    def get(self, namespace: str, key: str) -> Item | None:
        """The key's value, None when it has none (or it expired)."""
        raise NotImplementedError

    def put(self, namespace: str, key: str, value: bytes, content_type: str, *, ttl: int | None = None,
            if_match: Collection[str] | None = None, if_none_match: Collection[str] | None = None) -> Item:
        """Store `value` under `key` (replacing any value); `ttl` in seconds. The stored item."""
        raise NotImplementedError

    def delete(self, namespace: str, key: str, *, if_match: Collection[str] | None = None) -> bool:
        """Remove the key's value; False when it had none."""
        raise NotImplementedError

    def keys(self, namespace: str, prefix: str = "", limit: int | None = None) -> list[Entry]:
        """The live keys that start with `prefix`, sorted, at most `limit` of them."""
        raise NotImplementedError

    def ready(self) -> bool:
        """True when the backend can serve reads and writes now; raises (naming what failed) otherwise."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the backend's connections."""

    def check_value(self, value: bytes, content_type: str) -> None:
        """The checks of `put` that need no storage: the size limit and JSON validity."""
        if len(value) > self.max_value_size:
            raise ValueTooLarge(self.max_value_size)
        if is_json_type(content_type):
            check_json(value, self.max_json_depth)


def current_store() -> KVStorage:
    """The kv storage of the app serving the current request."""
    return state().storage
