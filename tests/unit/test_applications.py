"""The applications table and impact score (bench.results.applications) on folders built
here: slowdown from the paired blocks of recipe cells, drops against the counted truth,
and the score as the paired-block rule over per-repetition geometric means."""

from __future__ import annotations

import math

import pytest

from bench.analysis.blocks import paired
from bench.report import sections
from bench.report.present import Table
from bench.results import applications as apps
from bench.results.rundata import RunData
from tests.helpers.constructed import cell_rows, write_folder

# wall times (s) of (sensor cell, baseline cell) per recipe, per repetition
WALLS = {"copy": [(1.10, 1.00), (1.32, 1.20), (0.99, 0.90)],
         "build": [(2.00, 2.00), (2.10, 2.00), (1.90, 1.95)]}


def _recipe_cells(spec: str, recipe: str, walls, kinds: dict, mode: str = "kernel",
                  **fields) -> list[dict]:
    rows = []
    for r, (s, b) in enumerate(walls):
        base = f"baseline~{spec}|{recipe}|max|{r}"
        common = dict(workload=recipe, rate="max", repeat=r, workload_engine="recipe",
                      ops=1)
        rows += cell_rows("baseline", {k: {"expected": v["expected"]} for k, v in kinds.items()},
                          op_time_ns=b * 1e9, **common)
        for row in rows[-len(kinds):]:
            row["cell"] = base
        rows += cell_rows(spec, kinds, mode=mode, op_time_ns=s * 1e9,
                          block=f"{spec}|{recipe}|max|{r}", baseline_cell=base,
                          sensor_cpu_s=0.02, **common, **fields)
    return rows


@pytest.fixture
def run(tmp_path) -> RunData:
    kinds = {"file_create": {"expected": 1000, "matched": 1000},
             "file_write": {"expected": 1000, "matched": 1, "duplicates": 0},
             "proc_exec": {"expected": 1, "matched": 1, "duplicates": 2}}
    rows = []
    for recipe, walls in WALLS.items():
        rows += _recipe_cells("ebpf", recipe, walls, kinds)
    return RunData.load(write_folder(tmp_path / "f", rows))


def test_the_recipes_of_a_run_are_its_recipe_engine_workloads(run):
    assert apps.recipes(run) == ["copy", "build"]


def test_a_row_per_sensor_and_recipe_with_the_blocks_slowdown_and_the_drops(run):
    rows = {r.recipe: r for r in apps.table(run)}
    copy = rows["copy"]
    want = paired([s for s, _ in WALLS["copy"]], [b for _, b in WALLS["copy"]])
    assert copy.slowdown[0] == pytest.approx(want.slowdown_pct)
    assert copy.slowdown[0] == pytest.approx(10.0)
    assert copy.blocks == 3
    assert [k for k, _ in copy.drops] == ["file_write"]
    assert copy.drops[0][1] == pytest.approx(0.999)
    assert copy.beyond == 3 * 2                  # proc_exec's duplicates, every repetition
    assert copy.sensor_cpu_ms == pytest.approx(20.0)
    assert copy.baseline_s == pytest.approx(1.0)  # the median baseline wall time


def test_the_impact_score_is_the_blocks_rule_on_per_repetition_geometric_means(run):
    (score,) = apps.impact(run)
    s = [math.sqrt(WALLS["copy"][r][0] * WALLS["build"][r][0]) * 1e9 for r in range(3)]
    b = [math.sqrt(WALLS["copy"][r][1] * WALLS["build"][r][1]) * 1e9 for r in range(3)]
    want = paired(s, b)
    assert (score.pct, score.lo, score.hi) == pytest.approx(
        (want.slowdown_pct, want.slowdown_lo_pct, want.slowdown_hi_pct))
    assert score.recipes == ["copy", "build"] and score.of == 2 and score.repeats == 3
    assert score.per_repeat == pytest.approx([100 * (x / y - 1) for x, y in zip(s, b)])


def test_a_repetition_missing_a_recipe_is_left_out():
    blocks = [{"a": (2.0, 1.0), "b": (8.0, 4.0)}, {"a": (3.0, 1.0)},
              {"a": (1.0, 1.0), "b": (float("nan"), 1.0)}]
    s, b = apps.repetition_means(blocks, ["a", "b"])
    assert s == pytest.approx([4.0]) and b == pytest.approx([2.0])
    assert apps.repetition_means(blocks, ["a"]) == (pytest.approx([2.0, 3.0, 1.0]),
                                                   pytest.approx([1.0, 1.0, 1.0]))


def test_a_run_without_recipes_has_no_applications(tmp_path):
    run = RunData.load(write_folder(tmp_path / "f", cell_rows("ebpf")))
    assert apps.recipes(run) == [] and apps.table(run) == [] and apps.impact(run) == []
    assert not sections.applications(run)


def test_the_section_has_the_table_and_the_score(run):
    s = sections.applications(run)
    table, score = [b for b in s.blocks if isinstance(b, Table)]
    assert [r[2] for r in table.rows] == ["copy", "build"]
    drops = {r[2]: r[5] for r in table.rows}
    assert drops["copy"].text == "file_write 99.9 %" and drops["copy"].bad
    assert score.title == "Impact score" and len(score.rows) == 1


def test_the_reference_page_shows_the_applications_run_published_next_to_it(tmp_path):
    """results/README.md (a run without recipes) takes the applications table from
    results/applications, with a link to that run's page; without it, no such section."""
    from bench.report.markdown import _sibling_applications

    ref = RunData.load(write_folder(tmp_path / "reference",
                                    cell_rows("ebpf", ("file_create",), workload="file")))

    def link(p):
        return str(p.relative_to(tmp_path))

    assert _sibling_applications(ref, link) == []
    rows = []
    for recipe, walls in WALLS.items():
        rows += _recipe_cells("ebpf", recipe, walls, {"proc_exec": {"expected": 5,
                                                                    "matched": 5}})
    write_folder(tmp_path / "applications", rows)
    lines = _sibling_applications(ref, link)
    assert lines[0] == "## Applications: real programs under each sensor"
    assert "[applications/README.md](applications/README.md)" in lines[2]
    assert sum(ln.startswith("| `ebpf`") for ln in lines) == 2 + 1   # two recipes, a score


def test_applications_csv_has_a_row_per_sensor_and_recipe_with_its_score(run):
    df = apps.frame(run)
    assert list(df["recipe"]) == ["copy", "build"]
    assert df.loc[0, "drops"] == "file_write=0.999000"
    (score,) = apps.impact(run)
    assert (df["impact_pct"] == score.pct).all() and df.loc[0, "impact_recipes"] == "copy;build"


def test_the_applications_chart_is_drawn_when_the_run_has_recipes(run, tmp_path):
    from bench.report import appchart
    from bench.report.style import Styles

    (png, svg), reason = appchart.chart(run, Styles(run.series_info()), tmp_path / "c")
    assert png.stat().st_size > 0 and svg.exists() and reason == ""


def test_a_control_that_sees_no_kind_is_in_the_table_not_among_the_blind(tmp_path):
    """null_sensor's rows are all "unsupported", yet it ran next to its baselines: its
    slowdown is the A/A check of the recipes' slowdowns."""
    kinds = {"proc_exec": {"expected": 5, "status": "unsupported", "matched": 0}}
    rows = _recipe_cells("null_sensor", "find", WALLS["copy"], kinds)
    run = RunData.load(write_folder(tmp_path / "f", rows))
    (row,) = apps.table(run)
    assert row.series == "null_sensor" and row.blocks == 3 and apps.blind(run) == {}
    assert row.slowdown[0] == pytest.approx(10.0)
    blind = _recipe_cells("inotify", "find", WALLS["copy"], kinds)
    for r in blind:   # a sensor that sees none of the kinds is not run: no block
        r.update(block=None, baseline_cell=None, op_time_ns=None)
    run = RunData.load(write_folder(tmp_path / "g", [r for r in blind
                                                     if r["backend"] != "baseline"]))
    assert apps.table(run) == [] and apps.blind(run) == {"find": ["inotify"]}



@pytest.fixture
def two(tmp_path) -> RunData:
    """A kernel and a user-mode sensor on two recipes, the user-mode one blind to a kind,
    beside a synthetic workload's cell; one baseline of build counted a kind more."""
    kinds = {"file_create": {"expected": 1000, "matched": 990}}
    audit_kinds = kinds | {"net_accept": {"expected": 4, "status": "unsupported",
                                          "matched": 0}}
    rows = []
    for recipe, walls in WALLS.items():
        rows += _recipe_cells("zeta", recipe, walls, kinds, machine_busy_us_per_op=1000.0)
        rows += _recipe_cells("audit", recipe, walls, audit_kinds, mode="user")
    for r in rows:   # zeta's baselines: no machine CPU of their own (its cells: 1 ms)
        if r["cell"].startswith("baseline~zeta"):
            r["machine_busy_us_per_op"] = 0.0
    rows += cell_rows("zeta", ("file_create",), workload="file", mode="kernel")
    # a baseline cell of build with an extra counted kind: a cell is one wall time however
    # many kind rows it has
    extra = dict(rows[[i for i, r in enumerate(rows) if r["cell"] ==
                       "baseline~audit|build|max|0"][0]])
    rows.append(extra | {"kind": "proc_exec", "expected": 2})
    return RunData.load(write_folder(tmp_path / "two", rows))


def test_kernel_mode_first_then_by_name_then_in_recipe_order(two):
    got = [(r.series, r.recipe) for r in apps.table(two)]
    assert got == [("zeta", "copy"), ("zeta", "build"), ("audit", "copy"), ("audit", "build")]
    assert apps.recipes(two) == ["copy", "build"]   # the synthetic workload is no recipe


def test_each_row_reads_its_own_recipes_kinds(two):
    rows = {(r.series, r.recipe): r for r in apps.table(two)}
    assert rows[("audit", "copy")].unseen == ["net_accept"]
    assert rows[("zeta", "copy")].unseen == []
    assert rows[("zeta", "copy")].worst_drop == pytest.approx(0.01)
    assert rows[("zeta", "copy")].drops == [("file_create", pytest.approx(0.01))]
    assert rows[("zeta", "copy")].status == "ok" and rows[("zeta", "copy")].reason == ""


def test_the_baseline_wall_time_is_the_median_of_its_cells_not_its_rows(tmp_path):
    """copy's baselines took 1.0, 1.2 and 0.9 s; the one of 1.2 s counted four kinds more
    (a row each): still one cell, so the median stays 1.0 s."""
    rows = _recipe_cells("zeta", "copy", WALLS["copy"], {"file_create": {"expected": 1}})
    slow = next(r for r in rows if r["cell"] == "baseline~zeta|copy|max|1")
    rows += [dict(slow, kind=k, expected=1)
             for k in ("file_write", "proc_fork", "proc_exec", "proc_exit")]
    (row,) = apps.table(RunData.load(write_folder(tmp_path / "f", rows)))
    assert row.baseline_s == pytest.approx(1.0)


def test_a_recipe_without_a_baseline_has_no_wall_time(tmp_path):
    rows = [r for r in _recipe_cells("zeta", "copy", WALLS["copy"],
                                     {"file_create": {"expected": 1}})
            if r["backend"] != "baseline"]
    (row,) = apps.table(RunData.load(write_folder(tmp_path / "f", rows)))
    assert math.isnan(row.baseline_s)


def test_the_scores_are_kernel_first_with_their_mode_and_never_a_baselines(two):
    scores = apps.impact(two)
    assert [(i.series, i.mode) for i in scores] == [("zeta", "kernel"), ("audit", "user")]
    assert all(i.repeats == 3 and i.recipes == ["copy", "build"] for i in scores)


def test_a_failed_cell_leaves_its_repetition_out_of_the_score(tmp_path):
    kinds = {"file_create": {"expected": 10, "matched": 10}}
    rows = []
    for recipe, walls in WALLS.items():
        rows += _recipe_cells("zeta", recipe, walls, kinds)
    for r in rows:
        if r["cell"] == "zeta|build|max|1":
            r.update(status="failed", reason="step exited 2", op_time_ns=None, matched=None)
    run = RunData.load(write_folder(tmp_path / "f", rows))
    (score,) = apps.impact(run)
    assert score.repeats == 2
    s = [math.sqrt(WALLS["copy"][r][0] * WALLS["build"][r][0]) for r in (0, 2)]
    b = [math.sqrt(WALLS["copy"][r][1] * WALLS["build"][r][1]) for r in (0, 2)]
    assert score.pct == pytest.approx(paired(s, b).slowdown_pct)
    build = next(r for r in apps.table(run) if r.recipe == "build")
    assert build.blocks == 2


def test_a_control_that_sees_no_kind_has_a_score(tmp_path):
    kinds = {"proc_exec": {"expected": 5, "status": "unsupported", "matched": 0}}
    rows = _recipe_cells("null_sensor", "find", WALLS["copy"], kinds, mode="calibration")
    (score,) = apps.impact(RunData.load(write_folder(tmp_path / "f", rows)))
    assert score.series == "null_sensor" and score.repeats == 3
    assert score.pct == pytest.approx(10.0)


def test_the_blind_are_listed_per_recipe_in_the_order_the_recipes_ran(tmp_path):
    kinds = {"proc_exec": {"expected": 5, "status": "unsupported", "matched": 0}}
    rows = []
    for recipe in ("copy", "build"):
        for spec in ("zeta", "alpha"):
            cells = _recipe_cells(spec, recipe, WALLS["copy"][:1], kinds)
            rows += [dict(r, block=None, baseline_cell=None) for r in cells
                     if r["backend"] != "baseline"]
    rows += _recipe_cells("ebpf", "copy", WALLS["copy"], {"proc_exec": {"expected": 1}})
    run = RunData.load(write_folder(tmp_path / "f", rows))
    assert list(apps.blind(run).items()) == [("copy", ["alpha", "zeta"]),
                                             ("build", ["alpha", "zeta"])]
    assert [r.series for r in apps.table(run)] == ["ebpf"]


def test_every_column_of_applications_csv(two):
    df = apps.frame(two)
    row = df[(df["backend"] == "audit") & (df["recipe"] == "copy")].iloc[0].to_dict()
    (audit,) = [i for i in apps.impact(two) if i.series == "audit"]
    want_slow = paired([s for s, _ in WALLS["copy"]], [b for _, b in WALLS["copy"]])
    assert row == pytest.approx({
        "backend": "audit", "mode": "user", "recipe": "copy", "status": "ok", "reason": "",
        "slowdown_pct": want_slow.slowdown_pct,
        "slowdown_ci_low_pct": want_slow.slowdown_lo_pct,
        "slowdown_ci_high_pct": want_slow.slowdown_hi_pct, "blocks": 3,
        "worst_drop_rate": 0.01, "drops": "file_create=0.010000", "events_beyond_count": 0,
        "sensor_cpu_ms": 20.0, "machine_cpu_added_ms": row["machine_cpu_added_ms"],
        "machine_cpu_added_ci_low_ms": row["machine_cpu_added_ci_low_ms"],
        "machine_cpu_added_ci_high_ms": row["machine_cpu_added_ci_high_ms"],
        "baseline_wall_s": 1.0, "kinds_unseen": "net_accept",
        "impact_pct": audit.pct, "impact_ci_low_pct": audit.lo,
        "impact_ci_high_pct": audit.hi, "impact_recipes": "copy;build",
        "impact_min_pct": min(audit.per_repeat), "impact_max_pct": max(audit.per_repeat)},
        nan_ok=True)
    zeta = df[(df["backend"] == "zeta") & (df["recipe"] == "copy")].iloc[0]
    # zeta's cells used 1000 µs of machine CPU more than baselines that used none: 1 ms
    assert zeta["machine_cpu_added_ms"] == pytest.approx(1.0)
    assert zeta["kinds_unseen"] == "" and list(df.columns)[:3] == ["backend", "mode", "recipe"]
