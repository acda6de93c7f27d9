"""Issue 19's targets (and issue 17's for PostgreSQL): what each is checked against, and the rows of
the report's Targets table.

Pure functions of figures the report has already worked out, so they are unit-tested
(tests/unit/test_bench_targets.py) without running a benchmark.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

MB = 1_000_000  # the "350 MB": decimal megabytes, the stricter reading

# (scenario, wanted ratio to the best-settings bare Flask)
REQUEST_TARGETS = (
    ("GET /store/<name>/<id>", 0.8),
    ("GET /kv/<key> 1 KiB", 0.8),
    ("GET /store/<name> (100 items)", 0.55),
    ("GET /render/hello.html?name=x", 0.75),
    ("POST /store/<name>", 0.55),
    ("PUT /kv/<key> 1 KiB", 0.55),
)
DIAGNOSTIC_P99 = 1.25      # x the best ceiling's p99 at the same connections
RSS_IDLE = 350 * MB        # the native stack, default settings
RSS_LOAD = 450 * MB
COMPOSE_OF_NATIVE = 0.85   # each compose ratio over the native one
RANGE = 0.5                # GET /fs Range 64 KiB over nginx static
FEATURE_COST = 0.05        # auth, CORS, metrics, events: each at most 5 %

# Issue 17, a --postgres run: each store scenario at least 4x Kinto on the same PostgreSQL server, and
# each read at least 0.7 of the same scenario on SQLite (ratios to the best ceiling, the native block's)
PEER = 4.0
PEER_SCENARIOS = ("GET /store/<name>/<id>", "GET /store/<name> (100 items)", "POST /store/<name>")
POSTGRES_OF_SQLITE = 0.7
POSTGRES_READS = ("GET /store/<name>/<id>", "GET /store/<name> (100 items)", "GET /kv/<key> 1 KiB")


@dataclass
class Row:
    target: str
    wanted: str
    measured: str
    met: bool | None  # None: not measured in this run

    def markdown(self) -> str:
        status = "not run" if self.met is None else ("met" if self.met else "**not met**")
        return f"| {self.target} | {self.wanted} | {self.measured} | {status} |"


@dataclass
class Figures:
    """What a run measured, as the targets need it (None: not measured)."""
    ratios: dict[str, float | None]           # request scenario -> req/s ratio to the best ceiling
    diagnostic_p99: float | None = None       # ms
    ceiling_p99: float | None = None          # ms, the best ceiling's
    connections: int = 0
    rss_idle: int | None = None               # bytes, the whole stack
    rss_load: int | None = None
    native_ratios: dict[str, float] | None = None  # for a compose run: the native block's ratios
    range_ratio: float | None = None
    kind: str = "native"                      # native, compose or postgres
    peer_ratios: dict[str, float | None] | None = None  # postgres: hipflask's req/s over Kinto's, paired runs
    peer_note: str = ""                       # postgres: why Kinto did not run
    sqlite_ratios: dict[str, float] | None = None  # postgres: the native (SQLite) block's ratios


def check(value: float | None, wanted: float, at_most: bool = False) -> bool | None:
    if value is None:
        return None
    return value <= wanted if at_most else value >= wanted


def rows(f: Figures) -> list[Row]:
    out = []
    for name, wanted in REQUEST_TARGETS:
        ratio = f.ratios.get(name)
        out.append(Row(name, f"≥ {wanted:g} of bare Flask (best)", "" if ratio is None else f"{ratio:.2f}",
                       check(ratio, wanted)))
    limit = None if f.ceiling_p99 is None else DIAGNOSTIC_P99 * f.ceiling_p99
    out.append(Row("GET /diagnostic p99", f"≤ {DIAGNOSTIC_P99:g} x the best ceiling's p99 at -c {f.connections}",
                   "" if f.diagnostic_p99 is None or limit is None else
                   f"{f.diagnostic_p99:.1f} ms (limit {limit:.1f} ms)",
                   None if f.diagnostic_p99 is None or limit is None else
                   check(f.diagnostic_p99, limit, at_most=True)))
    if f.kind == "native":
        for label, value, wanted in (("stack RSS at idle", f.rss_idle, RSS_IDLE),
                                     ("stack RSS under load (peak)", f.rss_load, RSS_LOAD)):
            out.append(Row(label, f"≤ {wanted // MB} MB", "" if value is None else f"{value / MB:.0f} MB",
                           check(value, wanted, at_most=True)))
    if f.kind == "compose" and not f.native_ratios:
        out.append(Row("compose ratios over native", f"≥ {COMPOSE_OF_NATIVE:g} x the native ratio",
                       "no native block with ratios in bench/RESULTS.md (run the native bench first, or --both)",
                       None))
    elif f.kind == "compose":
        for name, compose_of_native in compose_comparison(f.ratios, f.native_ratios or {}).items():
            out.append(Row(f"compose {name}", f"≥ {COMPOSE_OF_NATIVE:g} x the native ratio",
                           "" if compose_of_native is None else f"{compose_of_native:.2f}",
                           check(compose_of_native, COMPOSE_OF_NATIVE)))
    if f.kind == "postgres":
        out += postgres_rows(f)
    out.append(Row("GET /fs/<path> Range 64 KiB", f"≥ {RANGE:g} of nginx static (Range)",
                   "" if f.range_ratio is None else f"{f.range_ratio:.2f}", check(f.range_ratio, RANGE)))
    return out


def postgres_rows(f: Figures) -> list[Row]:
    """Issue 17's rows: hipflask on PostgreSQL over Kinto on the same server, and over SQLite for reads."""
    out = []
    for name in PEER_SCENARIOS:
        ratio = (f.peer_ratios or {}).get(name)
        measured = f"{ratio:.1f}x" if ratio is not None else (f.peer_note or "Kinto not run")
        out.append(Row(f"{name} on PostgreSQL over Kinto-PG", f"≥ {PEER:g}x Kinto on the same PostgreSQL",
                       measured, check(ratio, PEER)))
    for name in POSTGRES_READS:
        mine, sqlite = f.ratios.get(name), (f.sqlite_ratios or {}).get(name)
        ratio = mine / sqlite if mine is not None and sqlite else None
        measured = f"{ratio:.2f}" if ratio is not None else (
            "" if mine is None else "no native (SQLite) block with ratios in bench/RESULTS.md")
        out.append(Row(f"{name} on PostgreSQL over SQLite", f"≥ {POSTGRES_OF_SQLITE:g} x SQLite (each over the "
                       "best ceiling of its run)", measured, check(ratio, POSTGRES_OF_SQLITE)))
    return out


def compose_comparison(compose: dict[str, float | None], native: dict[str, float]) -> dict[str, float | None]:
    """Each request target's compose ratio over its native ratio (None when either is missing)."""
    out: dict[str, float | None] = {}
    for name, _ in REQUEST_TARGETS:
        mine, theirs = compose.get(name), native.get(name)
        out[name] = mine / theirs if mine is not None and theirs else None
    return out


RATIOS_MARK = "<!-- bench:ratios "


def ratios_comment(ratios: dict[str, float | None]) -> str:
    """The ratios of a run, machine-readable inside its RESULTS.md block (a compose run reads the native's)."""
    kept = {name: round(value, 4) for name, value in ratios.items() if value is not None}
    return f"{RATIOS_MARK}{json.dumps(kept, sort_keys=True)} -->"


def ratios_of_block(results: str, label: str) -> dict[str, float] | None:
    """The ratios written in RESULTS.md's `label` block, or None when there is no such block or mark."""
    found = re.search(rf"<!-- bench:{re.escape(label)}:begin -->(.*?)<!-- bench:{re.escape(label)}:end -->",
                      results, re.S)
    if not found or RATIOS_MARK not in found.group(1):
        return None
    text = found.group(1).split(RATIOS_MARK, 1)[1].split(" -->", 1)[0]
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else None


def feature_cost(off: float | None, on: float | None, higher_is_better: bool) -> float | None:
    """The share of the figure with the feature off that turning it on costs: the fall of req/s
    (higher_is_better) or the rise of CPU µs/req."""
    if off is None or on is None or off <= 0:
        return None
    return (off - on) / off if higher_is_better else (on - off) / off
