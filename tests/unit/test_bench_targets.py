"""The benchmark's pure helpers: issue 19's targets table, the ratios a compose run reads back, PSS parsing."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(name: str):
    """A bench module by its file (bench/ is no package, and tests/stacks.py shadows bench/stacks.py)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


targets = load("targets")
processes = load("processes")


def row(rows, name):
    return next(r for r in rows if r.target == name)


def test_a_ratio_at_or_above_its_target_is_met_and_one_below_is_not():
    rows = targets.rows(targets.Figures(ratios={"GET /kv/<key> 1 KiB": 0.8, "GET /store/<name>/<id>": 0.79}))
    assert row(rows, "GET /kv/<key> 1 KiB").met is True
    assert row(rows, "GET /store/<name>/<id>").met is False


def test_a_scenario_that_did_not_run_is_marked_not_run_rather_than_missed():
    rows = targets.rows(targets.Figures(ratios={}))
    assert row(rows, "PUT /kv/<key> 1 KiB").met is None
    assert "not run" in row(rows, "PUT /kv/<key> 1 KiB").markdown()


def test_diagnostic_p99_is_held_to_a_quarter_above_the_best_ceilings_p99():
    within = targets.Figures(ratios={}, diagnostic_p99=25.0, ceiling_p99=20.0, connections=64)
    above = targets.Figures(ratios={}, diagnostic_p99=25.1, ceiling_p99=20.0, connections=64)
    assert row(targets.rows(within), "GET /diagnostic p99").met is True
    assert row(targets.rows(above), "GET /diagnostic p99").met is False


def test_stack_rss_targets_count_decimal_megabytes():
    figures = targets.Figures(ratios={}, rss_idle=350_000_000, rss_load=450_000_001)
    rows = targets.rows(figures)
    assert row(rows, "stack RSS at idle").met is True
    assert row(rows, "stack RSS under load (peak)").met is False


def test_a_compose_run_compares_each_ratio_with_the_native_ones():
    figures = targets.Figures(ratios={"GET /kv/<key> 1 KiB": 0.68, "POST /store/<name>": 0.5}, kind="compose",
                              native_ratios={"GET /kv/<key> 1 KiB": 0.8, "POST /store/<name>": 0.6})
    rows = targets.rows(figures)
    assert row(rows, "compose GET /kv/<key> 1 KiB").met is True     # 0.85 of native
    assert row(rows, "compose POST /store/<name>").met is False     # 0.83 of native
    assert not any(r.target.startswith("stack RSS") for r in rows)  # memory targets are the native stack's


def test_a_compose_run_without_native_ratios_says_how_to_get_them():
    rows = targets.rows(targets.Figures(ratios={"GET /kv/<key> 1 KiB": 0.7}, kind="compose"))
    comparison = row(rows, "compose ratios over native")
    assert comparison.met is None and "--both" in comparison.measured


def test_ratios_written_in_a_results_block_are_read_back_from_that_block_only():
    native = targets.ratios_comment({"GET /kv/<key> 1 KiB": 0.81234, "x": None})
    results = (f"<!-- bench:native:begin -->\ntext\n{native}\n<!-- bench:native:end -->\n<!-- bench:compose:begin -->\n"
               f"{targets.ratios_comment({'GET /kv/<key> 1 KiB': 0.5})}\n<!-- bench:compose:end -->")
    assert targets.ratios_of_block(results, "native") == {"GET /kv/<key> 1 KiB": 0.8123}
    assert targets.ratios_of_block(results, "postgres") is None


def test_a_feature_costs_the_fall_of_req_s_and_the_rise_of_cpu_per_request():
    assert targets.feature_cost(1000.0, 950.0, higher_is_better=True) == 0.05
    assert targets.feature_cost(400.0, 420.0, higher_is_better=False) == 0.05
    assert targets.feature_cost(None, 420.0, higher_is_better=False) is None


def test_pss_is_read_in_bytes_from_smaps_rollup():
    text = ("55d0c0a00000-7ffd5e3fe000 ---p 00000000 00:00 0    [rollup]\nRss:               30412 kB\n"
            "Pss:               12345 kB\nPss_Anon:           8000 kB\n")
    assert processes.parse_pss(text) == 12345 * 1024
    assert processes.parse_pss("Rss: 1 kB\n") == 0


def test_the_benchmarks_ceilings_are_not_counted_as_the_stack():
    assert processes.is_stack("stack.py") and processes.is_stack("gateway")
    assert not processes.is_stack("bench-ceiling") and not processes.is_stack("bench-ceiling-best")


def test_hipflask_on_postgres_is_held_to_four_times_kinto_on_the_same_server():
    figures = targets.Figures(ratios={}, kind="postgres",
                              peer_ratios={"GET /store/<name>/<id>": 4.0, "POST /store/<name>": 3.9})
    rows = targets.rows(figures)
    assert row(rows, "GET /store/<name>/<id> on PostgreSQL over Kinto-PG").met is True
    assert row(rows, "POST /store/<name> on PostgreSQL over Kinto-PG").met is False
    assert row(rows, "GET /store/<name> (100 items) on PostgreSQL over Kinto-PG").met is None


def test_a_kinto_that_did_not_run_shows_why_in_the_targets_table():
    figures = targets.Figures(ratios={}, kind="postgres", peer_note="Kinto on PostgreSQL not run: pip failed")
    line = row(targets.rows(figures), "POST /store/<name> on PostgreSQL over Kinto-PG").markdown()
    assert "pip failed" in line and "not run" in line


def test_postgres_reads_are_held_to_seven_tenths_of_the_native_sqlite_block():
    figures = targets.Figures(ratios={"GET /store/<name> (100 items)": 0.36, "GET /kv/<key> 1 KiB": 0.6},
                              kind="postgres",
                              sqlite_ratios={"GET /store/<name> (100 items)": 0.5, "GET /kv/<key> 1 KiB": 0.9})
    rows = targets.rows(figures)
    assert row(rows, "GET /store/<name> (100 items) on PostgreSQL over SQLite").met is True
    assert row(rows, "GET /kv/<key> 1 KiB on PostgreSQL over SQLite").met is False


def test_only_a_postgres_run_has_postgres_rows_and_it_has_no_rss_rows():
    native = [r.target for r in targets.rows(targets.Figures(ratios={}))]
    postgres = [r.target for r in targets.rows(targets.Figures(ratios={}, kind="postgres"))]
    assert not any("PostgreSQL" in name for name in native) and "stack RSS at idle" in native
    assert any("over Kinto-PG" in name for name in postgres) and "stack RSS at idle" not in postgres
