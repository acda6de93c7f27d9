"""The report: the tables printed after a run and the generated blocks of bench/RESULTS.md."""
from __future__ import annotations

import contextlib
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys

from console import log
from layout import RESULTS
from memory_report import MemoryReport
from runner import Bench
from scenarios import BEST, Measure, MiB, Scenario, human
from stacks import best_workers
from targets import Figures, Row, ratios_comment, ratios_of_block, rows as target_rows

# The earlier targets of the file scenarios, beside issue 19's (bench/targets.py)
FILE_TARGETS = [
    # (scenario, target, check(ratio of the medians, every run's measures))
    ("GET /fs/<path> {file}", "≥ 0.9 of nginx static", lambda r, ms: r is not None and r >= 0.9),
    ("upload {big} multipart (curl -F)", "≥ 0.5 of dd; fs memory growth ≤ 50 MB",
     lambda r, ms: r is not None and r >= 0.5 and max(x.mem_growth for x in ms) <= 50e6),
    ("upload {big} PUT (curl -T)", "≥ 0.5 of dd; fs memory growth ≤ 50 MB",
     lambda r, ms: r is not None and r >= 0.5 and max(x.mem_growth for x in ms) <= 50e6),
]


class Report:
    def __init__(self, bench: Bench, plan: list[Scenario], native_ratios: dict[str, float] | None = None):
        self.bench = bench
        self.plan = plan
        self.by_name = {s.name: s for s in plan}
        self.native_ratios = native_ratios  # --both: the native run's, else the native block's in RESULTS.md
        self.memory = MemoryReport(bench, plan)

    def ratio(self, scenario: Scenario, ceiling_name: str | None = None) -> float | None:
        """The median over the runs of the scenario's figure over its ceiling's in the same run
        (paired: the runs are interleaved, so drift between runs cancels). ceiling_name: another
        ceiling than the scenario's first (its `also`)."""
        ceiling_name = ceiling_name or scenario.ceiling
        if not ceiling_name or ceiling_name not in self.by_name:
            return None
        mine = self.bench.results.get(scenario.name)
        base = self.bench.results.get(ceiling_name)
        if not mine or not base:
            return None
        ceiling = self.by_name[ceiling_name]
        pairs = [self.value(scenario, m) / self.value(ceiling, c) for m, c in zip(mine, base) if self.value(ceiling, c)]
        return statistics.median(pairs) if pairs else None

    @staticmethod
    def value(scenario: Scenario, measure: Measure) -> float:
        return measure.mbps if scenario.file_scenario else measure.rps

    def stack_cpu(self, name: str) -> float | None:
        """Median CPU µs per request of every process of the stack (not the client); a peer's
        scenario (Kinto) counts its own processes and the PostgreSQL server, not hipflask's."""
        scenario = self.by_name.get(name)
        peer = scenario is not None and bool(scenario.peer_of)

        def counted(group: str) -> bool:
            if peer:
                return group.startswith("bench-kinto") or group == "postgres"
            return group != "client" and not group.startswith("bench-kinto")
        values = [sum(v for k, v in m.cpu_us.items() if counted(k))
                  for m in self.bench.results.get(name, []) if m.cpu_us]
        return statistics.median(values) if values else None

    def cpu_ratio(self, scenario: Scenario, ceiling_name: str | None = None) -> float | None:
        """The ceiling's stack CPU per request over the scenario's (a CPU-bound stack's req/s ratio)."""
        ceiling_name = ceiling_name or scenario.ceiling
        if not ceiling_name or scenario.file_scenario:
            return None
        mine, base = self.stack_cpu(scenario.name), self.stack_cpu(ceiling_name)
        return base / mine if mine and base else None

    def ratios(self) -> dict[str, float | None]:
        """Every request scenario's req/s ratio to the best-settings ceiling."""
        return {s.name: self.ratio(s) for s in self.plan if s.also and s.name in self.bench.results}

    def table(self) -> str:
        rows = ["| scenario | median (min–max) | p50 ms | p99 ms | errors | ratio | CPU ratio | vs "
                "| ratio, same settings | CPU ratio, same settings | stack CPU µs/req |",
                "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"]
        for scenario in self.plan:
            measures = self.bench.results.get(scenario.name)
            if not measures:
                reason = self.bench.skipped.get(scenario.name, "not run")
                rows.append(f"| {scenario.name} | skipped: {reason[:80]} | | | | | | | | | |")
                continue
            unit = "MB/s" if scenario.file_scenario else "req/s"
            values = [m.mbps if scenario.file_scenario else m.rps for m in measures]
            fmt = "{:.0f}" if unit == "req/s" or max(values) >= 100 else "{:.1f}"
            low, high = fmt.format(min(values)), fmt.format(max(values))
            figure = f"{fmt.format(statistics.median(values))} {unit} ({low}–{high})"
            errors = sum(m.errors for m in measures)
            ratio = self.ratio(scenario)
            if scenario.kind == "upload":
                growth = max(m.mem_growth for m in measures)
                figure += f", fs +{growth / MiB:.0f} MiB"
            if scenario.kind == "events":
                figure += f"; {measures[-1].detail}"
            same = scenario.also
            rows.append(f"| {scenario.name} | {figure} | {statistics.median(m.p50_ms for m in measures):.2f} | "
                        f"{statistics.median(m.p99_ms for m in measures):.2f} | {errors} | "
                        f"{self.cell(ratio, '{:.2f}')} | {self.cell(self.cpu_ratio(scenario), '{:.2f}')} | "
                        f"{'' if not scenario.ceiling else scenario.ceiling.removeprefix('ceiling: ')} | "
                        f"{self.cell(self.ratio(scenario, same) if same else None, '{:.2f}')} | "
                        f"{self.cell(self.cpu_ratio(scenario, same) if same else None, '{:.2f}')} | "
                        f"{self.cell(None if scenario.file_scenario else self.stack_cpu(scenario.name), '{:.0f}')} |")
        return "\n".join(rows)

    @staticmethod
    def cell(value: float | None, fmt: str) -> str:
        return "" if value is None else fmt.format(value)

    def cpu_table(self) -> str:
        database = any("postgres" in m.cpu_us for ms in self.bench.results.values() for m in ms)
        rows = ["| scenario | gateway (nginx) | service (gunicorn+Flask) | redis | "
                + ("PostgreSQL | " if database else "") + "client (wrk) |",
                "|---|---:|---:|---:|" + ("---:|" if database else "") + "---:|"]
        for scenario in self.plan:
            measures = self.bench.results.get(scenario.name)
            if not measures or scenario.kind != "wrk" or scenario.file_scenario:
                continue
            def cell(name, measures=measures):
                values = [m.cpu_us[name] for m in measures if name in m.cpu_us]
                return f"{statistics.median(values):.0f}" if values else ""
            service = scenario.service if scenario.service != "gateway" else None
            gateway = "bench-kinto-nginx" if scenario.peer_of else "gateway"  # a peer's own nginx
            rows.append(f"| {scenario.name} | {cell(gateway)} | {cell(service) if service else ''} | "
                        f"{'' if scenario.peer_of else cell('redis')} | "
                        + (f"{cell('postgres')} | " if database else "") + f"{cell('client')} |")
        return "\n".join(rows)

    def peer_ratios(self) -> dict[str, float | None]:
        """Each hipflask scenario with a peer (Kinto): its req/s over the peer's, paired by run."""
        return {s.peer_of: self.ratio(self.by_name[s.peer_of], s.name) for s in self.plan
                if s.peer_of and s.peer_of in self.by_name and s.name in self.bench.results}

    def peer_table(self) -> str:
        """hipflask on PostgreSQL beside Kinto on the same server (a --postgres run with the peer)."""
        ratios = self.peer_ratios()
        if not ratios:
            return ""
        rows = ["| scenario | hipflask on PostgreSQL | Kinto on PostgreSQL | hipflask / Kinto | "
                "stack CPU µs/req, hipflask | stack CPU µs/req, Kinto |", "|---|---:|---:|---:|---:|---:|"]
        for peer in (s for s in self.plan if s.peer_of in ratios):
            mine, theirs = self.bench.results.get(peer.peer_of, []), self.bench.results.get(peer.name, [])
            rows.append(f"| {peer.peer_of} / {peer.name.removeprefix('Kinto-PG: ')} | "
                        f"{statistics.median(m.rps for m in mine):.0f} req/s | "
                        f"{statistics.median(m.rps for m in theirs):.0f} req/s | "
                        f"{self.cell(ratios[peer.peer_of], '{:.1f}x')} | "
                        f"{self.cell(self.stack_cpu(peer.peer_of), '{:.0f}')} | "
                        f"{self.cell(self.stack_cpu(peer.name), '{:.0f}')} |")
        return "\n".join(rows)

    def postgres(self) -> bool:
        return bool(getattr(self.bench.args, "postgres", False))

    def figures(self) -> Figures:
        def p99(name: str) -> float | None:
            measures = self.bench.results.get(name)
            return statistics.median(m.p99_ms for m in measures) if measures else None
        range_scenario = self.by_name.get("GET /fs/<path> Range 64 KiB")
        kind = self.bench.target.kind
        postgres = self.postgres()
        native = self.native_ratios
        if (kind == "compose" and native is None) or postgres:
            native = ratios_of_block(RESULTS.read_text() if RESULTS.exists() else "", "native")
        return Figures(ratios=self.ratios(), diagnostic_p99=p99("GET /diagnostic"), ceiling_p99=p99(BEST),
                       connections=self.bench.args.connections, rss_idle=self.memory.idle_total(),
                       rss_load=self.memory.load_total(), native_ratios=None if postgres else native,
                       range_ratio=self.ratio(range_scenario) if range_scenario else None,
                       kind="postgres" if postgres else "native" if kind == "url" else kind,
                       peer_ratios=self.peer_ratios(), peer_note=self.bench.info.get("kinto", ""),
                       sqlite_ratios=native if postgres else None)

    def file_targets(self) -> list[Row]:
        out = []
        file_size, big = human(self.bench.args.file_size), human(self.bench.args.big_size)
        for name, what, check in FILE_TARGETS:
            name = name.format(file=file_size, big=big)
            scenario = self.by_name.get(name)
            measures = self.bench.results.get(name)
            if scenario is None or not measures:
                continue
            ratio = self.ratio(scenario)
            got = f"{ratio:.2f}" if ratio is not None else "no ceiling"
            if scenario.kind == "upload":
                got += f", +{max(m.mem_growth for m in measures) / MiB:.0f} MiB"
            out.append(Row(name, what, got, check(ratio, measures)))
        return out

    def targets_table(self) -> str:
        lines = ["| target | wanted | measured | met |", "|---|---|---|---|"]
        lines += [row.markdown() for row in target_rows(self.figures()) + self.file_targets()]
        return "\n".join(lines)

    def profiles(self) -> str:
        if not self.bench.profiles:
            return ""
        parts = ["### Where the service's time goes (py-spy --gil while wrk runs)", "",
                 "CPU is the service's whole CPU time per request (/proc, all workers, py-spy slows it a "
                 "little); Python is the time a worker held the GIL (py-spy samples), split by the innermost "
                 "library on the stack (stdlib frames count for their caller; the service's own code includes "
                 "its SQLite and Redis calls that hold the GIL). CPU minus Python is C code that releases the "
                 "GIL: system calls (socket I/O, fsync), SQLite, Redis I/O. Raw stacks: bench/.profiles/.", "",
                 "| scenario | CPU µs/req | Python µs/req | by library | heaviest frames (% of Python) |",
                 "|---|---:|---:|---|---|"]
        for name, summary in self.bench.profiles.items():
            layers = ", ".join(f"{layer} {p:.0f}%" for layer, p in summary["owners"][:6])
            leaves = "; ".join(f"`{leaf}` {p}%" for leaf, p in summary["leaves"][:4])
            parts.append(f"| {name} | {summary['cpu_us']:.0f} | {summary['python_us']:.0f} | {layers} | {leaves} |")
        return "\n".join(parts)

    def machine(self) -> dict[str, str]:
        cpu = "unknown"
        with contextlib.suppress(OSError):
            for line in open("/proc/cpuinfo"):
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        return {"date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
                "nproc": str(os.cpu_count()), "cpu": cpu, "kernel": platform.release(),
                "python": f"{platform.python_version()} ({sys.executable} -> {os.path.realpath(sys.executable)})",
                "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0].strip(),
                "nginx": subprocess.run([shutil.which("nginx") or "/usr/sbin/nginx", "-v"], capture_output=True,
                                        text=True).stderr.strip() if shutil.which("nginx") or
                os.path.exists("/usr/sbin/nginx") else "n/a"}

    def settings(self) -> str:
        a = self.bench.args
        env = self.bench.args.set or []
        gunicorn = (f"WORKERS={os.environ.get('WORKERS', '2')}, THREADS={os.environ.get('THREADS', '8')}, "
                    f"gthread" + (f"; overrides: {', '.join(env)}" if env else "")
                    + f"; best-settings ceiling: {best_workers()} sync workers on a unix socket")
        return (f"{a.runs} runs x {a.duration:g} s per scenario (interleaved), warm-up {a.warmup:g} s; "
                f"wrk -t {a.threads} -c {a.connections} (downloads -c 4); {gunicorn}; gateway access log "
                f"{'on' if a.access_log else 'off'}; stack: {self.bench.target.kind} ({self.bench.target.url}); "
                f"{self.bench.info.get('load', '')}")

    def text(self) -> str:
        m = self.machine()
        parts = [f"Date: {m['date']}  ",
                 f"Machine: {m['nproc']} CPUs, {m['cpu']}, Linux {m['kernel']}, Python {m['python']}, "
                 f"{m['wrk']}, {m['nginx']}  ",
                 f"Settings: {self.settings()}", "",
                 self.table(), "",
                 "Errors count every response with status >= 400 and every socket error (206 and 304 are "
                 "successes). Ratios are the median over the runs of each run's figure over its ceiling's in "
                 "the same run. Request scenarios: ratio to the req/s of the bare-Flask ceiling under its "
                 "best settings (2 x cores + 1 sync workers on a unix socket, upstream keepalive), then to the same "
                 "app under the services' own gunicorn settings (same settings); CPU ratio: the "
                 "ceiling's CPU per request over the scenario's, for the whole stack (gateway, services, Redis; "
                 "not wrk) from /proc, a steadier estimate than req/s when other work shares the machine; "
                 "downloads: to nginx serving the same size from the static folder on the same disk; uploads: to `dd "
                 "conv=fsync` on the fs data disk" + (f" ({self.bench.info['dd']})" if "dd" in self.bench.info else "")
                 + ". Upload rows add the fs service's memory growth during the upload (peak RSS minus the RSS "
                 "before it, sampled every 20 ms).", "",
                 "### Targets (issue 19" + (", and issue 17's on PostgreSQL)" if self.postgres() else ")"),
                 "", self.targets_table(), ""]
        peers = self.peer_table()
        if peers:
            parts += ["### hipflask on PostgreSQL beside Kinto on the same PostgreSQL", "",
                      f"{self.bench.info.get('kinto', '')}. Each ratio is the median over the runs of hipflask's "
                      "req/s over Kinto's in the same round. Stack CPU: hipflask's gateway, services, Redis and "
                      "PostgreSQL; Kinto's nginx, gunicorn workers and PostgreSQL.", "", peers, ""]
        for name, ok, text in self.bench.checks:
            parts.append(f"- {name}: {'ok' if ok else 'FAILED'}: {text}")
        parts += ["", self.memory.text(), "",
                  "### CPU per request (µs, from /proc, all processes of each service)", "", self.cpu_table(), ""]
        profile = self.profiles()
        if profile:
            parts += [profile, ""]
        parts.append(ratios_comment(self.ratios()))
        return "\n".join(parts)


def write_results(text: str, label: str) -> None:
    begin, end = f"<!-- bench:{label}:begin -->", f"<!-- bench:{label}:end -->"
    block = f"{begin}\n{text}\n{end}"
    old = RESULTS.read_text() if RESULTS.exists() else (
        "# hipflask benchmark results\n\n`make bench` (bench/run.py) rewrites the generated blocks below and keeps "
        "everything else.\n\n")
    if begin in old and end in old:
        new = old[:old.index(begin)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip("\n") + f"\n\n## {label} run\n\n{block}\n"
    RESULTS.write_text(new)
    log(f"wrote {RESULTS} ({label})")
