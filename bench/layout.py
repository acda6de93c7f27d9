"""Where the benchmark's files are, and the services of the stack it measures."""
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "RESULTS.md"
WRK_SCRIPT = BENCH / "wrk.lua"
COMPOSE_OVERRIDE = BENCH / "compose.bench.yml"
SERVICES = ("diagnostic", "store", "kv", "fs", "render", "events")
