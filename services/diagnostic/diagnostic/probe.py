"""GET a replica's readiness JSON on a kept-alive connection of the calling thread.

A round of checks runs every DIAGNOSTIC_CACHE_SECONDS while /diagnostic is polled, in the same
process as the requests it answers: http.client costs ~120 µs of CPU per check here against
~500 µs for requests' session (bench/RESULTS.md), which the answers waiting for the GIL pay.
A failure is named as requests named it (ConnectionError, ConnectTimeout, ReadTimeout), since
the names are in /diagnostic's details.
"""
from __future__ import annotations

import http.client
import json
import threading
from typing import Any
from urllib.parse import urlsplit

MAX_KEPT = 256


class ProbeError(Exception):
    """A replica that could not be asked: str(error) names what went wrong."""


class Probe:
    def __init__(self, timeout: float):
        self.timeout = timeout
        self._kept: dict[tuple[int, str], http.client.HTTPConnection] = {}  # (thread, netloc): one each

    def get_json(self, url: str) -> tuple[int, Any]:
        """(status, decoded body) of GET `url`; ProbeError when no answer came, ValueError for a
        body that is not JSON. A kept connection the replica has closed is replaced once."""
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        kept = self._kept.pop((threading.get_ident(), parts.netloc), None)
        if kept is not None:
            try:
                return self._ask(kept, parts.netloc, path)
            except (OSError, http.client.HTTPException) as exc:
                kept.close()
                if isinstance(exc, TimeoutError):
                    raise ProbeError("ReadTimeout") from exc
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = kind(parts.netloc, timeout=self.timeout)
        try:
            return self._ask(connection, parts.netloc, path)
        except (OSError, http.client.HTTPException) as exc:
            connected = connection.sock is not None
            connection.close()
            if isinstance(exc, TimeoutError):
                raise ProbeError("ReadTimeout" if connected else "ConnectTimeout") from exc
            raise ProbeError("ConnectionError") from exc

    def close(self) -> None:
        """Close every kept connection."""
        while self._kept:
            self._kept.popitem()[1].close()

    def _ask(self, connection: http.client.HTTPConnection, netloc: str, path: str) -> tuple[int, Any]:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        status, body = response.status, response.read()
        if response.will_close:
            connection.close()
        else:
            if len(self._kept) >= MAX_KEPT:  # replicas come and go (scaling): forget the old ones
                self.close()
            self._kept[threading.get_ident(), netloc] = connection
        return status, json.loads(body)
