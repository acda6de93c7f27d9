"""The report's memory section: the stack's RSS and PSS at idle and under load, per service and in total."""
from __future__ import annotations

from typing import TYPE_CHECKING

from layout import SERVICES
from processes import is_stack
from scenarios import MiB, Scenario

if TYPE_CHECKING:
    from runner import Bench

ORDER = ("gateway", "redis", "stack.py") + SERVICES + ("bench-ceiling", "bench-ceiling-best")


def mib(value: int | None) -> str:
    return "" if value is None else f"{value / MiB:.0f}"


class MemoryReport:
    def __init__(self, bench: Bench, plan: list[Scenario]):
        self.bench = bench
        self.plan = plan

    def load_measures(self):
        """Every run of a request scenario (wrk against a service or a ceiling): "under load"."""
        for scenario in self.plan:
            if scenario.kind == "wrk" and not scenario.file_scenario:
                yield from self.bench.results.get(scenario.name, [])

    def idle_total(self) -> int | None:
        values = [rss for name, (rss, _) in self.bench.idle.items() if is_stack(name)]
        return sum(values) if values else None

    def load_total(self) -> int | None:
        values = [m.stack_rss for m in self.load_measures() if m.stack_rss]
        return max(values) if values else None

    def names(self) -> list[str]:
        seen = set(self.bench.idle)
        for m in self.load_measures():
            seen.update(m.peaks)
        return [n for n in ORDER if n in seen] + sorted(seen - set(ORDER))

    def summary_table(self) -> str:
        measures = list(self.load_measures())
        rows = ["| process group | RSS idle | PSS idle | RSS peak under load | PSS under load |",
                "|---|---:|---:|---:|---:|"]
        for name in self.names():
            rss_idle, pss_idle = self.bench.idle.get(name, (None, None))
            peak = max((m.peaks.get(name, 0) for m in measures), default=0) or None
            pss_load = max((m.pss.get(name, 0) for m in measures), default=0) or None
            label = name if is_stack(name) else f"{name} (the benchmark's, not counted)"
            rows.append(f"| {label} | {mib(rss_idle)} | {mib(pss_idle)} | {mib(peak)} | {mib(pss_load)} |")
        pss_idle_total = sum(p for n, (_, p) in self.bench.idle.items() if is_stack(n)) or None
        pss_load_total = max((sum(v for n, v in m.pss.items() if is_stack(n)) for m in measures), default=0) or None
        rows.append(f"| **the stack (every process but the ceilings)** | **{mib(self.idle_total())}** | "
                    f"{mib(pss_idle_total)} | **{mib(self.load_total())}** | {mib(pss_load_total)} |")
        return "\n".join(rows)

    def scenario_table(self) -> str:
        names = self.names()
        if not names:
            return "(no process information: the stack's processes are not visible from here)"
        rows = ["| scenario | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        for scenario in self.plan:
            measures = self.bench.results.get(scenario.name)
            if not measures:
                continue
            peaks = {n: max(m.peaks.get(n, 0) for m in measures) for n in names}
            rows.append(f"| {scenario.name} | " + " | ".join(f"{peaks[n] / MiB:.0f}" for n in names) + " |")
        return "\n".join(rows)

    def text(self) -> str:
        if not self.bench.idle and not list(self.load_measures()):
            return "### Memory\n\n(no process information: the stack's processes are not visible from here)"
        return "\n".join([
            "### Memory (MiB)", "",
            "RSS is the headline figure (the issue's targets): resident pages summed over every process of "
            "each group (gateway, Redis, every gunicorn master and worker, stack.py), so pages shared by a "
            "master and its forked workers count once per process. PSS (/proc/<pid>/smaps_rollup) splits each "
            "shared page among its users: the memory the stack really holds. Idle: after the start and the "
            "warm-up, before the load. Under load: RSS sampled every 0.2 s during the request scenarios (the "
            "stack's total is the largest sum at one instant, not the sum of each group's peak); PSS read at "
            "the end of each request run, the largest kept.", "",
            self.summary_table(), "",
            "Peak RSS per scenario (MiB, each group's own peak during the scenario's runs):", "",
            self.scenario_table()])
