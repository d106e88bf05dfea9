"""Application recipes (workloads/recipes.py) as cells, driven through ``CellRunner``: each
recipe's real programs run in the cell's cgroup and the counted truth
(bench.harness.counter) sees the kinds the recipe is about; a failing command fails its
cell with its exit code; a missing tool skips the cell naming the Debian package; and the
count is independent of the sensor: a sensor told to drop a kind leaves the count as it
was, and the drop is reported against it.

Every recipe at scale 1 (its default) takes 0.1 to 3 s; the file runs in 30 to 50 s.
"""

from __future__ import annotations

import operator

import pytest

from bench import backends
from bench.backends._content import channel_file
from bench.core.kinds import Kind
from bench.harness import counter, spec as specmod
from bench.harness.cell import Cell, CellRunner
from tests.helpers import needs_root
from workloads import _inputs, recipes

pytestmark = [needs_root,
              pytest.mark.skipif(bool(counter.missing()), reason=str(counter.missing()))]

TREE_FILES = _inputs.TREE_SMALL + _inputs.TREE_LARGE   # files of the tree, at scale 1
DOWNLOADS = 20                                        # files served, at scale 1

# What each recipe is about, as the counter must see it at scale 1: kind -> (op, n).
OPS = {"==": operator.eq, ">=": operator.ge, ">": operator.gt}
ESSENTIAL = {
    # cp -r: every file of the tree created and written once
    "copy": {"file_create": ("==", TREE_FILES), "file_write": ("==", TREE_FILES)},
    # tar czf writes the archive, tar xzf every file of the tree; tar runs gzip
    "archive": {"file_create": ("==", TREE_FILES + 1), "file_write": ("==", TREE_FILES + 1),
                "proc_exec": (">=", 2)},
    # make, then at least one compiler per C file, and the link
    "build": {"proc_exec": (">", _inputs.C_FILES + 1), "file_create": (">", _inputs.C_FILES),
              "file_write": (">", _inputs.C_FILES)},
    # three passes of find then grep: nothing else runs
    "find": {"proc_exec": ("==", 2 * recipes.Find.PASSES),
             "proc_fork": ("==", 2 * recipes.Find.PASSES)},
    # pip writes the package's files, renames some into place, and uninstall deletes them
    "install": {"file_create": (">", _inputs.WHEEL_MODULES), "file_rename": (">", 0),
                "file_delete": (">", _inputs.WHEEL_MODULES)},
    # two shells, each starting its program N times: 200 /bin/true and 20 python3 (the
    # interpreter itself, never a version manager's shim that execs more)
    "launch": {"proc_exec": ("==", 2 + recipes.Launch.TRUE_N + recipes.Launch.PYTHON_N),
               "proc_fork": ("==", 2 + recipes.Launch.TRUE_N + recipes.Launch.PYTHON_N)},
    # one connection per file, accepted by the recipe's own server in the cgroup
    "download": {"net_connect": ("==", DOWNLOADS), "net_accept": ("==", DOWNLOADS),
                 "file_create": ("==", DOWNLOADS)},
    # the sock stressor connects, the fork and exec stressors fork
    "stress-ng": {"net_connect": (">", 0), "net_accept": (">", 0), "proc_fork": (">", 0)},
}


def _run(tmp_path, workload: str, spec: str | None = None,
         runner: type[CellRunner] = CellRunner) -> tuple[CellRunner, list[dict]]:
    """One cell of ``workload`` (a baseline without ``spec``), as ``sensorbench run`` runs a
    recipe's cell (rate max); the runner and its rows."""
    wd = tmp_path / "wd"
    wd.mkdir(parents=True, exist_ok=True)
    r = runner(tmp_path / "out", wd)
    cell = Cell(0, 0, specmod.parse_workload(workload), "max", 1.0,
                specmod.parse_backend(spec) if spec else None)
    return r, r.run(cell).rows


def _by_kind(rows: list[dict]) -> dict[str, dict]:
    by = {r["kind"]: r for r in rows}
    assert len(by) == len(rows), "two rows of one kind"
    return by


def _counted_cleanly(rows: list[dict]) -> None:
    """Every row ok, and the count complete: no exit without its enter, every process of
    the cgroup in the set the events are matched by."""
    bad = [(r["kind"], r["status"], r["reason"]) for r in rows if r["status"] != "ok"]
    assert bad == [], bad
    for r in rows:
        assert r["counted_unpaired"] == 0, r
        assert r["counted_pids_full"] == 0, r
        assert r["counted_pids"] > 0, r


@pytest.mark.parametrize("recipe", list(ESSENTIAL))
def test_a_recipe_baseline_counts_what_the_recipe_does(tmp_path, leaves_nothing, recipe):
    cls = recipes.RECIPES[recipe]
    why = cls.unavailable({})
    if why:
        pytest.skip(why)
    _, rows = _run(tmp_path, recipe)
    _counted_cleanly(rows)
    by = _by_kind(rows)
    # a row for every kind the recipe declares, its count as the counter has it
    assert {k.name for k in cls.kinds} <= set(by)
    got = {k: by[k]["expected"] for k in ESSENTIAL[recipe]}
    wrong = {k: (n, f"{op} {want}") for k, n in got.items()
             for op, want in [ESSENTIAL[recipe][k]] if not OPS[op](n, want)}
    assert wrong == {}, f"{recipe}: counted {got}"
    assert rows[0]["op_time_ns"] > 0 and rows[0]["ops"] == 1


@pytest.mark.parametrize("code", [3, 7])
def test_a_command_that_fails_fails_its_cell_with_its_exit_code(tmp_path, leaves_nothing,
                                                                code):
    """The step's own exit code is named (the workload process exits 3 whatever it was)."""
    _, rows = _run(tmp_path, f'cmd:argv=sh -c "exit {code}"')
    assert rows and all(r["status"] == "failed" for r in rows), rows[0]
    reason = rows[0]["reason"]
    assert f"sh -c 'exit {code}' exited with {code}" in reason, reason
    assert all(r["reason"] == reason for r in rows)


def test_a_command_that_succeeds_is_counted_exactly(tmp_path, leaves_nothing):
    """``true``: one fork, one exec, one exit, and nothing else (the harness's own files
    and processes are not the command's)."""
    _, rows = _run(tmp_path, "cmd:argv=true")
    _counted_cleanly(rows)
    counted = {k: r["expected"] for k, r in _by_kind(rows).items()}
    assert set(counted) == {k.name for k in Kind}        # cmd declares every kind
    assert counted == {k.name: 1 if k.name in ("proc_fork", "proc_exec", "proc_exit") else 0
                       for k in Kind}


def test_a_missing_tool_skips_the_cell_naming_the_debian_package(tmp_path, leaves_nothing,
                                                                 monkeypatch):
    real = recipes._which
    monkeypatch.setattr(recipes, "_which", lambda t: None if t == "curl" else real(t))
    _, rows = _run(tmp_path, "download")
    assert {r["kind"] for r in rows} == {k.name for k in recipes.Download.kinds}
    for r in rows:
        assert r["status"] == "skipped", r
        assert "curl" in r["reason"] and "Debian package" in r["reason"], r["reason"]
    assert list((tmp_path / "wd").iterdir()) == []      # nothing was prepared


class _Muting(CellRunner):
    """Tells the running sensor, through its in-kernel rules (a content update), to mute
    proc_exec. Sent once the sensor is ready, just before the workload process starts: at
    the workload's "start" line the recipe is already running (the workload does not wait
    for the harness), and the execs before the update took effect would be reported."""

    def _run_workload(self, a, on_mark=None):
        self.reply = a.sensor.update("rules", channel_file([(int(Kind.proc_exec), "mute")]))
        return super()._run_workload(a, on_mark)


def test_the_count_is_independent_of_the_sensor(tmp_path, leaves_nothing):
    """A sensor told to drop a kind leaves the count unchanged, and the drop is reported:
    the ebpf sensor with proc_exec muted in the kernel, on ``launch`` (its exec count is
    the same every run), against the same recipe un-muted."""
    why = backends.availability("ebpf")
    if why:
        pytest.skip(f"ebpf backend unavailable here: {why}")
    _, plain = _run(tmp_path / "plain", "launch", "ebpf")
    muting, muted = _run(tmp_path / "muted", "launch", "ebpf", runner=_Muting)
    assert muting.reply.get("update") == "applied", muting.reply
    _counted_cleanly(plain)
    _counted_cleanly(muted)
    plain, muted = _by_kind(plain), _by_kind(muted)
    # the count: the same with the kind muted as without
    for k in ("proc_fork", "proc_exec", "proc_exit"):
        assert muted[k]["expected"] == plain[k]["expected"], (k, muted[k], plain[k])
    assert muted["proc_exec"]["expected"] >= recipes.Launch.TRUE_N + recipes.Launch.PYTHON_N
    # un-muted, the sensor sees every exec; muted, none, and that is the drop reported
    assert plain["proc_exec"]["drop_rate"] == 0.0, plain["proc_exec"]
    assert muted["proc_exec"]["matched"] == 0, muted["proc_exec"]
    assert muted["proc_exec"]["drop_rate"] == 1.0, muted["proc_exec"]
    # the kinds it was not told to drop are all there
    for k in ("proc_fork", "proc_exit"):
        assert muted[k]["drop_rate"] == 0.0, muted[k]
        assert plain[k]["drop_rate"] == 0.0, plain[k]
