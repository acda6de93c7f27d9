"""Template names: `/`-separated relative paths, and the content type of a template's output.

A name with an empty segment, a segment starting with `.` (so `..` and hidden files), a
backslash, `%`, a control character or a leading `/` is refused (`BadTemplateName`, 400) before
any file is touched; includes and extends follow the same rule.
"""
from __future__ import annotations

import functools
import mimetypes
import re

from hipflask.errors import HipflaskError

MAX_NAME_LENGTH = 1024
MAX_SEGMENT_LENGTH = 255
_BAD_NAME_CHARACTER = re.compile(r"[\x00-\x1f\x7f\\%]")


class BadTemplateName(HipflaskError):
    def __init__(self, name: str, reason: str):
        super().__init__(400, "bad_template_name", f"template name {name!r} is refused: {reason}")


def split_name(name: str) -> tuple[str, ...]:
    """The segments of a template name; BadTemplateName when the name could leave the folders."""
    if not name:
        raise BadTemplateName(name, "it is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise BadTemplateName(name[:64] + "...", f"it is longer than {MAX_NAME_LENGTH} characters")
    if _BAD_NAME_CHARACTER.search(name):
        raise BadTemplateName(name, "backslashes, % and control characters are not allowed")
    segments = tuple(name.split("/"))
    for segment in segments:
        if segment == "":
            raise BadTemplateName(name, "it is absolute or has an empty segment")
        if segment.startswith("."):
            raise BadTemplateName(name, "a segment starts with '.'")
        if len(segment.encode("utf-8", "surrogatepass")) > MAX_SEGMENT_LENGTH:
            raise BadTemplateName(name, f"a segment is longer than {MAX_SEGMENT_LENGTH} bytes")
    return segments


@functools.lru_cache(maxsize=256)
def mimetype_for(name: str) -> str:
    """The content type of a template's output, from its extension (text/plain when unknown)."""
    lowered = name.lower()
    if lowered.endswith(".json"):
        return "application/json"
    if lowered.endswith((".html", ".htm")):
        return "text/html"
    return mimetypes.guess_type(lowered, strict=False)[0] or "text/plain"
