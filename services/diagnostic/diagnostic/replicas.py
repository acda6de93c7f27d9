"""Every replica of a target: the addresses its host name resolves to (compose's DNS gives one per
container of a scaled service; natively a target is one loopback address)."""
from __future__ import annotations

import socket
from urllib.parse import urlsplit


def replica_urls(url: str) -> list[str]:
    """One URL per address the target's host resolves to (the URL itself when it does not resolve)."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = sorted({info[4][0] for info in socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)})
    except (OSError, UnicodeError):
        return [url]
    if len(addresses) <= 1:
        return [url]
    return [f"{parts.scheme}://{address}:{port}" for address in addresses]
