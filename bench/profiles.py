"""py-spy profiles: installing py-spy and summarising its raw stacks by owning library."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from console import log


def ensure_py_spy() -> str:
    found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if found:
        return found
    log("installing py-spy into the virtualenv (benchmark only, never a runtime dependency)")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "py-spy"], check=True)
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"


# Who owns a sample: the innermost frame of these libraries (stdlib frames count for their caller).
LAYERS = (
    ("jinja2", re.compile(r"\(jinja2/")),
    ("redis client", re.compile(r"\(redis/")),
    ("hipflask shared library", re.compile(r"\(hipflask/")),
    ("service code (with its SQLite calls)", re.compile(r"\((store|kv|fs|render|diagnostic|ceiling_app)[/.]")),
    ("flask", re.compile(r"\(flask/")),
    ("werkzeug", re.compile(r"\(werkzeug/")),
    ("gunicorn", re.compile(r"\(gunicorn/")),
)
# Leaf frames of a thread that waits (py-spy's own idle detection misses futex waits here).
IDLE = re.compile(r"^(_worker \(concurrent/futures/thread\.py|[\w.]*select \(selectors\.py|wait \(threading\.py|"
                  r"get \(queue\.py|sleep |accept \(socket\.py|_wait_for_tstate_lock)")


def owner(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, pattern in LAYERS:
            if pattern.search(frame):
                return name
    return "stdlib and interpreter"


def summarise_profile(raw: str) -> dict:
    """Busy samples by owning library and the heaviest leaf frames, from py-spy's raw (collapsed)
    stacks: `frame;frame;... count` per line, idle waits left out."""
    by_owner: dict[str, int] = {}
    by_leaf: dict[str, int] = {}
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        if not frames or IDLE.match(frames[-1]):
            continue
        n = int(count)
        total += n
        name = owner(frames)
        by_owner[name] = by_owner.get(name, 0) + n
        by_leaf[frames[-1]] = by_leaf.get(frames[-1], 0) + n

    def pct(table):
        return [(k, round(100 * n / max(total, 1), 1)) for k, n in sorted(table.items(), key=lambda kv: -kv[1])]
    return {"samples": total, "owners": pct(by_owner), "leaves": pct(by_leaf)[:8]}
