"""The one clock of stored times: epoch milliseconds, as every family stores and serves them."""
from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
