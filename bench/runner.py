"""Bench: prepares the stack, runs the scenarios interleaved, checks the store writes, takes profiles."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import subprocess
import time
import urllib.parse
from pathlib import Path

import events_load
from console import log
from layout import BENCH, WRK_SCRIPT
from processes import Sampler
from profiles import ensure_py_spy, summarise_profile
from scenarios import KV_VALUE, STORE_BODY, Measure, MiB, Scenario, human, make_file
from stacks import Target, http_request as plain_request


class Bench:
    def __init__(self, target: Target, args: argparse.Namespace):
        self.target = target
        self.args = args
        self.peers: list = []  # more processes the stack's requests use (PostgreSQL) or peers beside it (Kinto)
        self.sampler = Sampler(lambda: target.groups() + [group for peer in self.peers for group in peer.groups()])
        self.values: dict[str, str] = {}
        self.results: dict[str, list[Measure]] = {}
        self.skipped: dict[str, str] = {}
        self.run_marker = f"r{os.getpid()}x{int(time.time())}"
        self.acked_ids: list[int] = []
        self.wrk_runs = 0
        self.marker_runs = 0  # wrk runs of the marked POST: each may leave one write per connection unread
        self.checks: list[tuple[str, bool, str]] = []
        self.info: dict[str, str] = {}
        self.idle: dict[str, tuple[int, int]] = {}  # service -> (RSS, PSS) after start and warm-up
        self.headers: dict[str, str] = {}  # sent with every request (--features: a token, an Origin)
        self.profiles: dict[str, dict] = {}

    def request(self, url: str, method: str = "GET", body: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, dict, bytes]:
        return plain_request(url, method, body, {**self.headers, **(headers or {})}, timeout)

    # -- set-up --
    def prepare(self, plan: list[Scenario]) -> None:
        work = self.target.work
        sizes = {s.size for s in plan if s.kind == "upload"}
        file_size = self.args.file_size
        self.values["static_name"] = f"hipflask-bench-{human(file_size).replace(' ', '')}.bin"
        download = make_file(work / "download.bin", file_size)
        if any("{static_name}" in s.path for s in plan):
            self.target.put_static(download, self.values["static_name"])
        self.upload_sources = {size: make_file(work / f"upload-{size}.bin", size) for size in sizes}
        families = {s.family for s in plan if s.family}
        for family in sorted(families):
            reason = self.family_down(family)
            if reason:
                self.skipped[family] = reason
                log(f"{family}: {reason}; its scenarios are skipped")
        if "store" not in self.skipped:
            self.seed_store()
        if "kv" not in self.skipped:
            status, _, body = self.request(f"{self.target.url}/kv/bench/get", "POST", KV_VALUE,
                                           {"Content-Type": "text/plain"})
            if status != 200:
                self.skipped["kv"] = f"seeding POST /kv/bench/get answered {status} {body[:200]!r}"
        if "fs" not in self.skipped and any(s.path == "/fs/bench/download.bin" for s in plan):
            status = self.curl_upload(download, "/fs/bench/download.bin", "put")[0]
            if status != 200:
                self.skipped["fs"] = f"seeding PUT /fs/bench/download.bin answered {status}"

    def family_down(self, family: str) -> str:
        probe = {"diagnostic": "/diagnostic", "store": "/store/bench_probe", "kv": "/kv/bench/probe",
                 "fs": "/fs/bench/probe", "render": "/render/hello.html", "events": "/events?colour=probe",
                 "kinto": "{kinto_url}/v1/"}[family].format(**self.values)
        try:
            status, _, body = self.request(probe if "://" in probe else self.target.url + probe, timeout=5)
        except OSError as exc:
            return f"GET {probe} failed: {exc}"
        if status >= 500:  # the gateway's 502: the service is not there (a 404 is an answer)
            return f"GET {probe} answered {status} {body[:160]!r}"
        return ""

    def seed_store(self) -> None:
        url = self.target.url
        status, _, body = self.request(f"{url}/store/bench_item", "POST", STORE_BODY,
                                       {"Content-Type": "application/json"})
        if status != 200:
            self.skipped["store"] = f"seeding POST /store/bench_item answered {status} {body[:200]!r}"
            return
        self.values["item_id"] = str(json.loads(body)["id"])
        items = self.list_items("/store/bench_list")
        for _ in range(100 - len(items)):
            status, _, body = self.request(f"{url}/store/bench_list", "POST", STORE_BODY,
                                           {"Content-Type": "application/json"})
            if status != 200:
                self.skipped["store"] = f"seeding POST /store/bench_list answered {status}"
                return
        items = self.list_items("/store/bench_list")
        if len(items) != 100:
            self.skipped["store"] = f"GET /store/bench_list gave {len(items)} items after seeding 100"

    def list_items(self, path: str) -> list[dict]:
        """Every item of a store list, following `Link: <...>; rel="next"` pages if the store pages."""
        items, url = [], f"{self.target.url}{path}"
        while url:
            status, headers, body = self.request(url, timeout=60)
            if status == 404:
                return items
            if status != 200:
                raise RuntimeError(f"GET {url} answered {status}")
            page = json.loads(body)
            items.extend(page if isinstance(page, list) else page.get("items") or page.get("data") or [])
            link = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', headers.get("link", ""))
            url = urllib.parse.urljoin(url, link.group(1)) if link else None
        return items

    # -- one run of a scenario --
    def wrk(self, scenario: Scenario, duration: float, ids_file: Path | None = None) -> Measure:
        path = scenario.path.format(**self.values)
        headers = {**self.headers, **scenario.headers}
        env = dict(os.environ, BENCH_METHOD=scenario.method,
                   BENCH_HEADERS="\n".join(f"{k}: {v}" for k, v in headers.items()))
        if scenario.body is not None:
            body_file = self.target.work / f"body-{abs(hash(scenario.name))}.bin"
            body_file.write_bytes(scenario.body)
            env["BENCH_BODY_FILE"] = str(body_file)
        if scenario.marker:
            self.wrk_runs += 1
            env["BENCH_MARKER"] = f"{self.run_marker}-{self.wrk_runs}"  # wrk's counters restart each run
        if ids_file is not None:
            env["BENCH_IDS_FILE"] = str(ids_file)
        argv = ["wrk", "-t", str(self.args.threads), "-c", str(scenario.connections),
                "-d", f"{max(1, round(duration))}s",
                "--timeout", "30s" if scenario.file_scenario else "10s", "-s", str(WRK_SCRIPT),
                path if "://" in path else self.target.url + path]  # a peer's scenario names its own URL
        out = subprocess.run(argv, env=env, capture_output=True, text=True)
        line = next((entry for entry in out.stdout.splitlines() if entry.startswith("BENCH-JSON ")), None)
        if out.returncode != 0 or line is None:
            raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}")
        data = json.loads(line[len("BENCH-JSON "):])
        seconds = data["duration_us"] / 1e6
        errors = data["connect"] + data["read"] + data["write"] + data["status"] + data["timeout"]
        detail = ", ".join(f"{k} {data[k]}" for k in ("connect", "read", "write", "status", "timeout") if data[k])
        return Measure(rps=data["requests"] / seconds, mbps=data["bytes"] / seconds / 1e6,
                       p50_ms=data["p50_us"] / 1000, p99_ms=data["p99_us"] / 1000, errors=errors,
                       requests=data["requests"], detail=detail)

    def curl_upload(self, source: Path, path: str, how: str) -> tuple[int, float]:
        argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "-H", "Expect:"]
        argv += ["-F", f"file=@{source}"] if how == "multipart" else ["-T", str(source)]
        out = subprocess.run(argv + [self.target.url + path], capture_output=True, text=True)
        try:
            status, seconds = out.stdout.split()
            return int(status), float(seconds)
        except ValueError:
            return 0, 0.0

    def upload(self, scenario: Scenario) -> Measure:
        source = self.upload_sources[scenario.size]
        with contextlib.suppress(OSError):
            self.request(self.target.url + scenario.path, "DELETE")
        before = self.sampler.sample().get("fs", 0)
        interval, self.sampler.interval = self.sampler.interval, 0.02
        try:
            status, seconds = self.curl_upload(source, scenario.path, scenario.upload)
        finally:
            self.sampler.interval = interval
        peak = self.sampler.end_window().get("fs", 0)
        with contextlib.suppress(OSError):
            self.request(self.target.url + scenario.path, "DELETE")
        ok = 200 <= status < 400
        return Measure(rps=1 / seconds if seconds else 0, mbps=scenario.size / seconds / 1e6 if seconds else 0,
                       p50_ms=seconds * 1000, p99_ms=seconds * 1000, errors=0 if ok else 1, requests=1,
                       mem_growth=max(0, peak - before) if before else 0,
                       detail="" if ok else f"status {status}")

    def dd(self, scenario: Scenario) -> Measure:
        seconds, where = self.target.dd(scenario.size // MiB)
        self.info["dd"] = where
        return Measure(rps=1 / seconds, mbps=scenario.size / seconds / 1e6, p50_ms=seconds * 1000,
                       p99_ms=seconds * 1000, requests=1)

    def measure(self, scenario: Scenario, duration: float, ids_file: Path | None = None) -> Measure:
        self.sampler.start_window()
        cpu_before = self.sampler.cpu()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        if scenario.kind == "wrk":
            result = self.wrk(scenario, duration, ids_file)
        elif scenario.kind == "upload":
            result = self.upload(scenario)
        elif scenario.kind == "events":
            idle = min(scenario.subscribers, 20) if self.args.quick else scenario.subscribers
            result = events_load.measure(self.target.url, idle, scenario.rate, duration,
                                         lambda: self.sampler.sample().get("events", 0))
        else:
            result = self.dd(scenario)
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_after = self.sampler.cpu()
        result.peaks = self.sampler.end_window()
        result.stack_rss = self.sampler.stack_peak
        if scenario.kind == "wrk" and not scenario.file_scenario:
            result.pss = self.sampler.pss()
        if result.requests:
            spent = {name: cpu_after[name] - cpu_before.get(name, cpu_after[name]) for name in cpu_after}
            spent["client"] = (children_after.ru_utime + children_after.ru_stime
                               - children_before.ru_utime - children_before.ru_stime)
            result.cpu_us = {name: seconds / result.requests * 1e6 for name, seconds in spent.items()}
        return result

    def run(self, plan: list[Scenario]) -> None:
        self.info["load"] = f"load average {os.getloadavg()[0]:.1f} at the start"
        self.sampler.start()
        self.prepare(plan)
        active = [s for s in plan if s.family not in self.skipped]
        for scenario in plan:
            if scenario.family in self.skipped:
                self.skipped[scenario.name] = self.skipped[scenario.family]
        ids_dir = self.target.work / "ids"
        ids_dir.mkdir(exist_ok=True)
        if self.args.warmup > 0:
            log(f"warming up ({self.args.warmup:g} s per request scenario)")
            for scenario in active:
                if scenario.kind == "wrk":
                    ids_file = ids_dir / f"warmup-{abs(hash(scenario.name))}" if scenario.marker else None
                    self.measure(scenario, self.args.warmup, ids_file)
                    if ids_file:
                        self.collect_ids(ids_file)
        self.measure_idle()
        for round_number in range(1, self.args.runs + 1):
            log(f"run {round_number} of {self.args.runs}")
            for scenario in active:
                ids_file = ids_dir / f"run{round_number}-{abs(hash(scenario.name))}" if scenario.marker else None
                result = self.measure_run(scenario, ids_file)
                if ids_file:
                    self.collect_ids(ids_file)
                self.results.setdefault(scenario.name, []).append(result)
                figure = f"{result.mbps:9.1f} MB/s" if scenario.file_scenario else f"{result.rps:9.0f} req/s"
                log(f"  {scenario.name:<38} {figure}  p99 {result.p99_ms:8.2f} ms  errors {result.errors}"
                    + (f" ({result.detail})" if result.detail else ""))
        self.info["load"] += f", {os.getloadavg()[0]:.1f} at the end of the runs"
        if any(s.marker for s in active):
            self.verify_store_writes()
        if self.args.profile:
            self.profile(active)

    def measure_run(self, scenario: Scenario, ids_file: Path | None = None) -> Measure:
        """One run of --duration; a failure to run is a Measure with an error."""
        try:
            result = self.measure(scenario, self.args.duration, ids_file)
            if self.args.quick and scenario.kind == "wrk" and not result.requests and not result.errors:
                # a slow write on a loaded machine may not finish within --quick's 1 s: a speed, which
                # --quick never fails on; a longer run tells it from a hang
                log(f"  {scenario.name}: no answer within {self.args.duration:g} s; again for 5 s")
                if ids_file:
                    self.collect_ids(ids_file)  # its writes in flight count as the first run's
                result = self.measure(scenario, 5.0, ids_file)
        except RuntimeError as exc:
            result = Measure(errors=1, detail=str(exc)[:300])
        return result

    def measure_idle(self, settle: float = 2.0) -> None:
        """Memory of every process at idle: after the start and the warm-up, before the load
        (a moment for the warm-up's last requests and the allocator to settle)."""
        self.sampler.refresh()
        self.sampler.stopped.wait(settle)
        rss = self.sampler.sample()
        pss = self.sampler.pss()
        self.idle = {name: (rss[name], pss.get(name, 0)) for name in rss}

    def collect_ids(self, ids_file: Path) -> None:
        self.marker_runs += 1
        if ids_file.exists():
            self.acked_ids.extend(int(line) for line in ids_file.read_text().split())

    def verify_store_writes(self) -> None:
        """Every write acknowledged with an id is in the list exactly once, with its own id."""
        items = self.list_items("/store/bench_post")
        mine = [item for item in items if str(item.get("marker", "")).startswith(self.run_marker + "-")]
        listed_ids = [item.get("id") for item in mine]
        markers = [item.get("marker") for item in mine]
        acked = self.acked_ids
        problems = []
        if len(set(acked)) != len(acked):
            problems.append(f"{len(acked) - len(set(acked))} ids were acknowledged twice")
        if len(set(listed_ids)) != len(listed_ids):
            problems.append(f"{len(listed_ids) - len(set(listed_ids))} duplicate ids in the list")
        if len(set(markers)) != len(markers):
            problems.append(f"{len(markers) - len(set(markers))} writes stored twice (same marker)")
        missing = set(acked) - set(listed_ids)
        if missing:
            problems.append(f"{len(missing)} acknowledged ids missing (e.g. {sorted(missing)[:5]})")
        # wrk stops with a request in flight on each connection: committed, never read.
        in_flight = len(mine) - len(set(acked))
        if in_flight > self.marker_runs * self.args.connections:
            problems.append(f"{in_flight} stored items were never acknowledged, more than the "
                            f"{self.marker_runs} x {self.args.connections} requests in flight when wrk stopped")
        text = (f"{len(acked)} acknowledged POST /store writes, each there exactly once with its own id "
                f"({in_flight} more stored from requests in flight when wrk stopped)" if not problems else
                f"{len(acked)} acknowledged POST /store writes: " + "; ".join(problems))
        self.checks.append(("store writes", not problems, text))
        log(text)

    # -- profiles --
    def profile(self, active: list[Scenario]) -> None:
        """py-spy --gil on each request scenario's service (every worker) while wrk runs: where the
        Python time goes, next to the service's whole CPU time per request from /proc."""
        if self.target.kind == "compose":
            log("profiles are taken on the native stack only")
            return
        py_spy = ensure_py_spy()
        rate = 100
        wanted = [s for s in active if s.kind == "wrk" and not s.file_scenario and s.service != "gateway"]
        keep = BENCH / ".profiles"
        keep.mkdir(exist_ok=True)
        for scenario in wanted:
            group = next((g for g in self.target.groups() if g.name == scenario.service), None)
            if group is None or not group.pgids:
                continue
            log(f"profiling {scenario.name}")
            out = keep / f"{re.sub(r'[^a-z0-9]+', '-', scenario.name.lower()).strip('-')}.txt"
            out.unlink(missing_ok=True)
            seconds = max(2, int(self.args.profile_seconds))
            # The group leader is the gunicorn master; --subprocesses follows its workers.
            recorder = subprocess.Popen([py_spy, "record", "--pid", str(group.pgids[0]), "--subprocesses", "--gil",
                                         "--format", "raw", "--duration", str(seconds + 2), "--rate", str(rate),
                                         "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1)
            cpu_before = self.sampler.cpu().get(scenario.service, 0.0)
            measure = self.wrk(scenario, seconds)
            cpu = self.sampler.cpu().get(scenario.service, 0.0) - cpu_before
            _, err = recorder.communicate(timeout=seconds + 60)
            if not out.exists() or not measure.requests:
                log(f"py-spy gave nothing for {scenario.name}: {err.decode(errors='replace')[-300:]}")
                continue
            summary = summarise_profile(out.read_text())
            # samples outside the wrk run (py-spy starts 1 s early, stops 1 s late) are idle anyway
            summary["python_us"] = summary["samples"] / rate / measure.requests * 1e6
            summary["cpu_us"] = cpu / measure.requests * 1e6
            summary["rps"] = measure.rps
            self.profiles[scenario.name] = summary
