#!/usr/bin/env python3
"""hipflask's benchmark: every endpoint family through the gateway, against this machine's ceilings.

    bench/run.py                  the native stack in a temporary var dir on free ports, 3 runs x 5 s
    bench/run.py --quick          1 run x 1 s, small files, 8 connections: exit status 1 when a scenario
                                  could not run or had an error (never a speed): `make test` runs it
    bench/run.py --compose        against the compose stack (project ${IMAGE_PREFIX:-hipflask}-bench, its own volumes)
    bench/run.py --scale          the store scenarios against compose with --scale store=3, then checks
                                  that every acknowledged write is there exactly once with its own id
    HIPFLASK_URL=http://host:port bench/run.py   against a running stack (memory from --var's pgid files)
    bench/run.py --profile        also py-spy profiles of the hot paths (pip installs py-spy in the venv)
    bench/run.py --postgres       the store and kv scenarios with both on a PostgreSQL of its own
                                  (DATABASE_URL), labelled `postgres` beside the SQLite figures, and Kinto
                                  on the same server as a peer (bench/kinto_peer.py; installed on first use
                                  into bench/.kinto/; if it does not install or run, the bench says so and
                                  goes on); --quick --postgres leaves Kinto out unless --kinto
    bench/run.py --metrics off    the services without their Prometheus metrics (METRICS_ENABLED=false),
                                  in its own RESULTS.md block: the metrics' cost is the CPU µs/req difference
    bench/run.py --features       what auth, CORS, metrics and events each cost (bench/features.py): one
                                  native stack per setting, interleaved rounds, the `features` block
    bench/run.py --both           the native stack, then the compose stack (compose ratios over native)
    bench/run.py --all            `make bench`: native, compose (when Docker answers), --postgres, --features,
                                  each a run of its own, each rewriting its block of bench/RESULTS.md

Request scenarios run wrk with the same connections, threads and duration (-t 2 -c 64); each is compared
with two bare-Flask ceilings behind the same gateway (bench/ceiling_app.py): under its best settings
(2 x cores + 1 sync workers on a unix socket, upstream keepalive: issue 19's) and under the services'
own gunicorn settings.
Downloads are compared with nginx serving a static file from the same disk, uploads with `dd
conv=fsync` on that disk. Runs are interleaved (every scenario once, then again) so drift on a shared
machine hits them alike; the table shows the median with min and max, and each ratio is the median of
the runs' ratios to the ceiling of the same round. A full run rewrites its generated block of
bench/RESULTS.md and keeps the rest (the findings written by hand).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from compose_stack import ComposeStack
from console import log
from layout import ROOT
from report import Report, write_results
from runner import Bench
from scenarios import MiB, Scenario, kinto_scenarios, scenarios
from stacks import NativeStack, Target, UrlStack, wait_for


def ensure_tools() -> None:
    missing = [tool for tool in ("wrk", "curl", "dd") if not shutil.which(tool)]
    if not missing:
        return
    packages = [{"wrk": "wrk", "curl": "curl", "dd": "coreutils"}[tool] for tool in missing]
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"installing {' '.join(packages)} with apt-get")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "-q", "update"], env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "-q", "install", "-y", "--no-install-recommends", *packages], env=env,
                       check=True, stdout=subprocess.DEVNULL)
    else:
        sys.exit(f"bench: missing {' '.join(missing)}: run `sudo apt-get install {' '.join(packages)}` and retry")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 run x 1 s, small files; only checks for errors")
    p.add_argument("--compose", action="store_true", help="run against the compose stack")
    p.add_argument("--postgres", action="store_true",
                   help="store and kv on a PostgreSQL server of the bench's own (the store and kv scenarios)")
    p.add_argument("--kinto", action=argparse.BooleanOptionalAction, default=None,
                   help="with --postgres: Kinto on the same PostgreSQL as a peer (default: on, off with --quick)")
    p.add_argument("--scale", type=int, nargs="?", const=3, default=0,
                   help="store scenarios against compose with --scale store=N (default 3), then check the writes")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per run of a request scenario")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per request scenario")
    p.add_argument("--connections", type=int, default=64, help="wrk -c of request scenarios (issue 19: 64)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--file-size", type=int, default=100 * MiB)
    p.add_argument("--big-size", type=int, default=1 << 30)
    p.add_argument("--only", help="a regular expression: run the scenarios whose name matches (and ceilings)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="environment for the stack and the ceiling (e.g. WORKERS=3, GUNICORN_CMD_ARGS=-k sync)")
    p.add_argument("--label", help="name of this run's block in RESULTS.md (default: native, compose or scale)")
    p.add_argument("--access-log", action="store_true", help="keep the gateway's access log on")
    p.add_argument("--metrics", choices=("on", "off"), default="on",
                   help="off: METRICS_ENABLED=false in every service, to measure what the metrics cost")
    p.add_argument("--features", action="store_true",
                   help="what auth, CORS, metrics and events cost: a stack per setting, interleaved rounds")
    p.add_argument("--both", action="store_true", help="the native stack, then compose (compose/native ratios)")
    p.add_argument("--all", action="store_true", help="make bench: native, compose, --postgres, --features")
    p.add_argument("--profile", action="store_true", help="py-spy profiles of the request scenarios")
    p.add_argument("--profile-seconds", type=float, default=8)
    p.add_argument("--var", type=Path, default=ROOT / "var", help="with HIPFLASK_URL: the stack's var dir")
    p.add_argument("--write", dest="write", action="store_true", default=None, help="write bench/RESULTS.md")
    p.add_argument("--no-write", dest="write", action="store_false")
    p.add_argument("--json", type=Path, help="also write the raw measures there")
    p.add_argument("--keep", action="store_true", help="leave the stack (and its var dir) behind")
    args = p.parse_args(argv)
    if args.quick:  # a smoke test that every scenario works, not a load test
        args.runs, args.duration, args.warmup = 1, 1.0, 0.0
        args.file_size, args.big_size = 8 * MiB, 32 * MiB
        args.connections = min(args.connections, 8)
    if args.scale:
        args.compose = True
    if args.features and (args.compose or args.postgres or args.both or os.environ.get("HIPFLASK_URL")):
        p.error("--features starts native stacks of its own; not with --compose, --postgres, --both or HIPFLASK_URL")
    if args.both and (args.compose or args.postgres or os.environ.get("HIPFLASK_URL")):
        p.error("--both runs the native stack, then compose; not with --compose, --postgres or HIPFLASK_URL")
    if args.postgres and (args.compose or os.environ.get("HIPFLASK_URL")):
        p.error("--postgres runs the native stack on the bench's own PostgreSQL; "
                "not with --compose, --scale or HIPFLASK_URL")
    if args.write is None:
        args.write = not (args.quick or args.only or args.set)
    if args.kinto is None:
        args.kinto = args.postgres and not args.quick
    return args


def select(plan: list[Scenario], args: argparse.Namespace) -> list[Scenario]:
    if args.scale:
        plan = [s for s in plan if s.name.startswith(("ceiling: gateway", "ceiling: bare", "POST /store",
                                                      "GET /store"))]
    if args.postgres:
        plan = [s for s in plan if s.is_ceiling and "bare" in s.name or s.family in ("store", "kv")]
        plan += kinto_scenarios() if args.kinto else []
    if args.only:
        wanted = [s for s in plan if re.search(args.only, s.name)]
        ceilings = {s.ceiling for s in wanted} | {s.also for s in wanted}
        plan = [s for s in plan if s in wanted or s.name in ceilings]
    for s in plan:
        if not s.file_scenario:
            s.connections = args.connections
    return plan


def run_all(argv: list[str]) -> int:
    """`make bench`: every block of bench/RESULTS.md, each from a run of its own (a fresh stack each);
    the compose run compares its ratios with the native block just written."""
    rest = [a for a in argv if a != "--all"]
    steps: list[list[str]] = [[]]
    if os.environ.get("HIPFLASK_URL"):
        log("HIPFLASK_URL is set: one pass against that stack (no compose, PostgreSQL or features pass)")
    elif shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
        steps.append(["--compose"])
    else:
        log("Docker does not answer: no compose run (its block in bench/RESULTS.md is kept)")
    if not os.environ.get("HIPFLASK_URL"):
        steps += [["--postgres"], ["--features"]]
    failed = []
    for step in steps:
        log(f"make bench: bench/run.py {' '.join(step + rest)}")
        if subprocess.run([sys.executable, str(Path(__file__).resolve()), *step, *rest]).returncode != 0:
            failed.append(" ".join(step))
    if failed:
        log(f"make bench: failed: {', '.join(failed)}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--all" in argv:
        return run_all(argv)
    args = parse_args(argv)
    ensure_tools()
    overrides = dict(item.split("=", 1) for item in (args.set or []))
    if args.metrics == "off":
        overrides["METRICS_ENABLED"] = "false"
    if args.features:
        return features(args, overrides)
    if args.both:
        native: dict[str, float] = {}
        status = run_once(args, overrides, native_out=native)
        args.compose = True
        return max(status, run_once(args, overrides, native_ratios=native))
    return run_once(args, overrides)


def features(args: argparse.Namespace, overrides: dict[str, str]) -> int:
    from features import run_features
    text, failures = run_features(args, overrides)
    print(text)
    if args.write and not args.quick:
        write_results(text, args.label or "features")
    if failures:
        log("FAILED:\n  " + "\n  ".join(failures))
        return 1
    if args.quick:
        log("quick: every feature setting ran without errors")
    return 0


def start_kinto(database):
    """Kinto on the bench's PostgreSQL, and what the report says of it; (None, why) when it cannot run here."""
    from kinto_peer import KintoPeer, KintoUnavailable
    peer = KintoPeer(database)
    try:
        peer.start()
    except KintoUnavailable as exc:
        peer.stop()
        log(f"Kinto-PG: not run, {exc}")
        return None, f"Kinto on PostgreSQL not run: {exc}"
    return peer, f"Kinto {peer.version} on the same PostgreSQL, {peer.workers} gunicorn sync workers, its own nginx"


def run_once(args: argparse.Namespace, overrides: dict[str, str], native_out: dict[str, float] | None = None,
             native_ratios: dict[str, float] | None = None) -> int:
    url = os.environ.get("HIPFLASK_URL")
    database = None
    peer = None
    plan = select(scenarios(args.file_size, args.big_size), args)
    kinto_note = ""
    if args.postgres:
        from postgres import BenchPostgres
        database = BenchPostgres()
        database.start()
        overrides.setdefault("DATABASE_URL", database.url)
        if any(s.family == "kinto" for s in plan):
            peer, kinto_note = start_kinto(database)
            if peer is None:
                plan = [s for s in plan if s.family != "kinto"]
    if args.compose:
        target: Target = ComposeStack(args.scale or 1, overrides, args.access_log, args.keep)
    elif url:
        target = UrlStack(url, args.var)
    else:
        target = NativeStack(overrides, args.access_log, args.keep)
    label = args.label or ("scale" if args.scale else "postgres" if args.postgres
                           else target.kind if target.kind != "url" else "native")
    if args.metrics == "off" and not args.label:
        label += ", metrics off"
    stopping = False

    def on_signal(signum, frame):
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    bench = Bench(target, args)
    bench.peers = [p for p in (database, peer) if p is not None]
    if peer is not None:
        bench.values.update(peer.values)
    if kinto_note:
        bench.info["kinto"] = kinto_note
    try:
        target.start()
        # stack.py has already waited for /diagnostic before it says it is ready
        status = wait_for(f"{target.url}/diagnostic", 5 if target.kind == "native" else 90)
        if status != 200:
            log(f"GET /diagnostic answers {status}: not every service is up")
        for ceiling in ("/_bench/flask", "/_bench/flask-best"):
            if wait_for(f"{target.url}{ceiling}", 30) != 200:
                raise RuntimeError(f"the bare-Flask ceiling ({ceiling}) does not answer")
        bench.run(plan)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        log(f"failed: {exc}")
        return 1
    finally:
        bench.sampler.stopped.set()
        target.stop()
        if peer is not None:
            peer.stop()
        if database is not None:
            database.stop()
    report = Report(bench, plan, native_ratios)
    if native_out is not None:
        native_out.update({k: v for k, v in report.ratios().items() if v is not None})
    text = report.text()
    print(text)
    if args.json:
        args.json.write_text(json.dumps({name: [m.__dict__ for m in ms] for name, ms in bench.results.items()},
                                        indent=1))
    failures = [f"{name}: skipped ({reason})" for name, reason in bench.skipped.items()
                if name in report.by_name]
    errors = [f"{s.name}: {m.errors} errors {m.detail}" for s in plan for m in bench.results.get(s.name, [])
              if (m.errors or not m.requests) and not s.peer_of]
    peer_errors = [f"{s.name}: {m.errors} errors {m.detail}" for s in plan for m in bench.results.get(s.name, [])
                   if m.errors and s.peer_of]
    failures += [f"{name}: {text}" for name, ok, text in bench.checks if not ok]
    if args.quick:
        failures += errors  # a full run reports errors in its table; --quick fails on them
    elif errors:
        log("errors (in the table):\n  " + "\n  ".join(errors))
    if peer_errors:  # a peer's (Kinto's) answers are its own: shown, never a failure of hipflask's bench
        log("the peer's errors (in the table):\n  " + "\n  ".join(peer_errors))
    if args.write and not args.quick:
        write_results(text, label)
    if failures:
        log("FAILED:\n  " + "\n  ".join(failures))
        return 1
    if args.quick:
        log(f"quick: all {len(plan)} scenarios ran without errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
