"""The one namespace rule: which data space a request belongs to.

In uid mode the namespace is the value of the USER_HEADER_NAME header (default `Uid`) made
filename-safe, `DEFAULT` when the header is absent or empty; in token mode it is the token's `sub`
(`hipflask.access.namespace()` gives the current request's). The mapping is injective: letters,
digits, `.` and `-` are kept, every other byte becomes `_xx` (its hex code), and a leading `.` is encoded too, so
two different users never share a namespace and no namespace is `.` or `..`.
"""
from __future__ import annotations

from hipflask.errors import HipflaskError

DEFAULT = "DEFAULT"
MAX_LENGTH = 128
MAX_SAFE_LENGTH = 200  # leaves room for suffixes within a 255-byte file name
_KEEP = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")


def make_safe(value: str | None) -> str:
    """The filename-safe namespace for a raw header value."""
    if value is None or value == "":
        return DEFAULT
    if len(value) > MAX_LENGTH:
        raise HipflaskError(400, "bad_namespace", f"the user header is longer than {MAX_LENGTH} characters")
    out = []
    for index, byte in enumerate(value.encode("utf-8", "surrogateescape")):
        if byte in _KEEP and not (index == 0 and byte == ord(".")):
            out.append(chr(byte))
        else:
            out.append(f"_{byte:02x}")
    safe = "".join(out)
    if len(safe) > MAX_SAFE_LENGTH:
        raise HipflaskError(400, "bad_namespace", "the user header is too long once made filename-safe")
    return safe


def environ_key(header: str) -> str:
    """The WSGI environ key of a request header (`Uid` -> `HTTP_UID`)."""
    return "HTTP_" + header.upper().replace("-", "_")

