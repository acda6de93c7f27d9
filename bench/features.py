"""`bench/run.py --features`: what each optional feature costs (issue 19: auth, CORS, metrics, events,
each at most 5 %).

One native stack per setting, all running at once: a baseline with every feature off, and one stack
per feature with only that feature on. Rounds are interleaved (each scenario on every stack in turn,
the order rotated each round), so drift on a shared machine hits every setting alike. A feature's
cost is the median over the rounds of its fall in req/s and its rise in stack CPU µs per request,
each against the baseline's run in the same round.
"""
from __future__ import annotations

import argparse
import secrets
import selectors
import socket
import statistics
import subprocess
import sys
import threading
import urllib.parse
from dataclasses import dataclass, field

from console import log
from runner import Bench
from scenarios import Measure, scenarios
from stacks import NativeStack, wait_for
from targets import FEATURE_COST, feature_cost

ORIGIN = "http://bench.example"
WRITE = "POST /store/<name>"
MEASURED = ("GET /store/<name>/<id>", "GET /kv/<key> 1 KiB", WRITE)
# every feature off: the defaults but for METRICS_ENABLED (on by default)
BASELINE = {"METRICS_ENABLED": "false", "CORS_ORIGINS": "", "AUTH_MODE": "uid", "LOCAL_EVENT_SOURCES": ""}
SUBSCRIBERS = 5


@dataclass
class Setting:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    applies: tuple[str, ...] = MEASURED
    subscribers: int = 0


def settings() -> list[Setting]:
    keys = f"bench:{secrets.token_hex(32)}"
    return [
        Setting("baseline"),
        Setting("metrics", {"METRICS_ENABLED": "true"}),
        Setting("CORS", {"CORS_ORIGINS": ORIGIN}, {"Origin": ORIGIN}),
        Setting("auth", {"AUTH_MODE": "token", "AUTH_KEYS": keys},
                {"Authorization": f"Bearer {mint(keys)}"}),
        Setting("events", {"LOCAL_EVENT_SOURCES": "store,kv"}, applies=(WRITE,), subscribers=SUBSCRIBERS),
    ]


def mint(keys: str) -> str:
    """A write token for the namespace `bench`, from hipflask's own minting command."""
    out = subprocess.run([sys.executable, "-m", "hipflask.mint", "--ns", "bench", "--scope", "write", "--ttl", "2h"],
                         env={"AUTH_KEYS": keys, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True)
    return out.stdout.strip()


class Subscribers:
    """Open /events streams of the store and kv families, read (and dropped) by one thread."""

    def __init__(self, url: str, count: int, headers: dict[str, str]):
        parts = urllib.parse.urlsplit(url)
        self.selector = selectors.DefaultSelector()
        self.stopping = threading.Event()
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        for _ in range(count):
            sock = socket.create_connection((parts.hostname, parts.port or 80), timeout=10)
            sock.sendall(f"GET /events?family=store,kv HTTP/1.0\r\nHost: {parts.hostname}\r\n"
                         f"Accept: text/event-stream\r\n{extra}\r\n".encode())
            first = sock.recv(64)
            if b" 200 " not in first.split(b"\r\n", 1)[0]:
                raise RuntimeError(f"GET /events answered {first[:40]!r}")
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ)
        self.thread = threading.Thread(target=self.drain, daemon=True)
        self.thread.start()

    def drain(self) -> None:
        while not self.stopping.is_set():
            for key, _ in self.selector.select(0.2):
                try:
                    if not key.fileobj.recv(65536):  # type: ignore[union-attr]
                        self.selector.unregister(key.fileobj)
                except OSError:
                    self.selector.unregister(key.fileobj)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]


def stack_cpu(measure: Measure) -> float | None:
    values = [v for k, v in measure.cpu_us.items() if k != "client" and not k.startswith("bench-")]
    return sum(values) if values and measure.requests else None


def paired_cost(base: list[Measure], mine: list[Measure], rps: bool) -> float | None:
    costs = []
    for b, m in zip(base, mine):
        value = feature_cost(b.rps, m.rps, True) if rps else feature_cost(stack_cpu(b), stack_cpu(m), False)
        if value is not None:
            costs.append(value)
    return statistics.median(costs) if costs else None


def table(results: dict[str, dict[str, list[Measure]]], all_settings: list[Setting]) -> str:
    base = results["baseline"]
    rows = ["| scenario | feature | req/s off | req/s on | cost of req/s | stack CPU µs/req off | on "
            "| cost of CPU µs/req | met (≤ 5 % of both) |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for setting in all_settings[1:]:
        for name in setting.applies:
            off, on = base.get(name, []), results[setting.name].get(name, [])
            if not off or not on:
                rows.append(f"| {name} | {setting.name} | not run | | | | | | |")
                continue
            rps_cost, cpu_cost = paired_cost(off, on, True), paired_cost(off, on, False)
            cpu_off = [c for c in map(stack_cpu, off) if c is not None]
            cpu_on = [c for c in map(stack_cpu, on) if c is not None]
            met = None if rps_cost is None or cpu_cost is None else \
                rps_cost <= FEATURE_COST and cpu_cost <= FEATURE_COST
            rows.append(
                f"| {name} | {setting.name} | {statistics.median(m.rps for m in off):.0f} | "
                f"{statistics.median(m.rps for m in on):.0f} | {pct(rps_cost)} | "
                f"{statistics.median(cpu_off):.0f} | {statistics.median(cpu_on):.0f} | {pct(cpu_cost)} | "
                f"{'n/a' if met is None else ('met' if met else '**not met**')} |"
                if cpu_off and cpu_on else f"| {name} | {setting.name} | no CPU figures | | | | | | |")
    return "\n".join(rows)


def pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:+.1f} %"


def describe(all_settings: list[Setting], args: argparse.Namespace) -> str:
    what = {"metrics": "METRICS_ENABLED=true", "CORS": f"CORS_ORIGINS={ORIGIN} and `Origin: {ORIGIN}` on every request",
            "auth": "AUTH_MODE=token, AUTH_KEYS, a write token (`Authorization: Bearer`) on every request",
            "events": f"LOCAL_EVENT_SOURCES=store,kv and {SUBSCRIBERS} open `/events?family=store,kv` streams "
                      f"(the write scenario only)"}
    return (f"{args.runs} rounds x {args.duration:g} s per scenario and setting (interleaved, the order rotated "
            f"each round), wrk -t {args.threads} -c {args.connections}. Baseline: every feature off "
            f"({', '.join(f'{k}={v}' for k, v in BASELINE.items())}); each other stack turns one on: "
            + "; ".join(f"**{s.name}**: {what[s.name]}" for s in all_settings[1:])
            + ". Cost: the median over the rounds of the fall in req/s and of the rise in the stack's CPU per "
              "request (/proc, every process but wrk and the ceilings) against the baseline of the same round; "
              "negative: within the noise.")


def run_features(args: argparse.Namespace, overrides: dict[str, str]) -> tuple[str, list[str]]:
    """Runs the feature stacks; returns the report text and the failures (errors, skipped scenarios)."""
    all_settings = settings()
    plan = [s for s in scenarios(args.file_size, args.big_size) if s.name in MEASURED]
    for s in plan:
        s.connections = args.connections
    benches: dict[str, Bench] = {}
    subscribers: list[Subscribers] = []
    results: dict[str, dict[str, list[Measure]]] = {s.name: {} for s in all_settings}
    failures: list[str] = []
    try:
        for setting in all_settings:
            target = NativeStack({**BASELINE, **overrides, **setting.env}, args.access_log, args.keep)
            bench = Bench(target, args)
            bench.headers = dict(setting.headers)
            benches[setting.name] = bench
            log(f"features: the {setting.name} stack")
            target.start()
            if wait_for(f"{target.url}/diagnostic", 10) != 200:
                log(f"features: GET /diagnostic of the {setting.name} stack is not 200")
            bench.sampler.start()
            mine = [s for s in plan if s.name in setting.applies]
            bench.prepare(mine)
            failures += [f"{setting.name}: {k} skipped ({v})" for k, v in bench.skipped.items()]
            if setting.subscribers:
                subscribers.append(Subscribers(target.url, setting.subscribers, setting.headers))
            for scenario in mine if args.warmup > 0 else []:
                bench.measure(scenario, args.warmup)
        for round_number in range(args.runs):
            log(f"features: round {round_number + 1} of {args.runs}")
            for scenario in plan:
                turn = all_settings[round_number % len(all_settings):] + all_settings[:round_number % len(all_settings)]
                for setting in turn:
                    if scenario.name not in setting.applies:
                        continue
                    m = benches[setting.name].measure_run(scenario)
                    results[setting.name].setdefault(scenario.name, []).append(m)
                    log(f"  {setting.name:<9} {scenario.name:<26} {m.rps:8.0f} req/s  "
                        f"{stack_cpu(m) or 0:6.0f} µs/req  errors {m.errors}")
                    if m.errors or not m.requests:
                        failures.append(f"{setting.name}: {scenario.name}: {m.errors} errors {m.detail}")
    finally:
        for streams in subscribers:
            streams.close()
        for bench in benches.values():
            bench.sampler.stopped.set()
            bench.target.stop()
    text = "\n".join(["### What each feature costs (issue 19: at most 5 % each)", "", describe(all_settings, args),
                      "", table(results, all_settings), ""])
    return text, failures
