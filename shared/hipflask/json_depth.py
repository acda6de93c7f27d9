"""The one JSON nesting limit (MAX_JSON_DEPTH), checked wherever hipflask parses JSON it was sent.

Python's json parser and encoder recurse, and a RecursionError (not a ValueError) would answer
500; a value nested deeper than the limit answers `400 bad_json` naming the limit instead. The
depth of a scalar is 0, of `[]` or `{}` 1, of `[[1]]` 2. Anything parsed here is within the limit,
so re-encoding it or merging it into a stored value cannot recurse too deep either.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hipflask.errors import HipflaskError
from hipflask.state import settings

DEFAULT_MAX_JSON_DEPTH = 64


class TooDeep(HipflaskError):
    def __init__(self, limit: int):
        super().__init__(400, "bad_json", f"the JSON is nested deeper than {limit} levels (MAX_JSON_DEPTH)")


def check_depth(value: Any, limit: int) -> Any:
    """`value` itself; TooDeep when its containers nest deeper than `limit` (never recurses)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            raise TooDeep(limit)
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return value


def loads(text: str | bytes, limit: int, parse_constant: Callable[[str], Any] | None = None) -> Any:
    """json.loads within the depth limit: TooDeep when nested deeper, ValueError when malformed."""
    try:
        value = json.loads(text, parse_constant=parse_constant)
    except RecursionError:
        raise TooDeep(limit) from None
    return check_depth(value, limit)


def limit() -> int:
    """The running service's MAX_JSON_DEPTH."""
    return settings().max_json_depth
