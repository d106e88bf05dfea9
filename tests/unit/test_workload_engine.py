"""The workload settings every workload has (engine, threads, pin) and what the harness
does with them before any workload runs: refuse a spec that cannot mean anything, skip a
cell whose engine is not built here, plan no baseline for it; and the native engine's
schedules, which must be the Python pacer's to the nanosecond."""

from __future__ import annotations

import os
import subprocess

import pytest

from bench.core.errors import BadInput
from bench.harness import cell as cellmod, runner, spec as specmod
from bench.harness.cell import Cell, CellRunner
from workloads import base, get_workload, native
from workloads.native.engine import config_text
from workloads.pacing import open_loop

NOT_BUILT = "the native engine (sb-load) is not built: run `make native`"


@pytest.fixture
def unbuilt(monkeypatch):
    """The native engine missing, as on a machine where `make native` never ran."""
    monkeypatch.setattr(base, "load_missing", lambda: NOT_BUILT)


def test_every_workload_has_the_engine_settings():
    for name in ("file", "process", "network"):
        settings = get_workload(name).settings
        assert {"engine", "threads", "pin"} <= set(settings)
        assert settings["engine"].default in base.ENGINES
        assert settings["threads"].default == 1


def test_native_is_the_default_where_it_is_built(monkeypatch):
    monkeypatch.setattr(base, "load_missing", lambda: None)
    assert base._default_engine() == "native"
    monkeypatch.setattr(base, "load_missing", lambda: NOT_BUILT)
    assert base._default_engine() == "python"


@pytest.mark.parametrize("text,needle", [
    ("file:engine=rust", "must be one of native, python"),
    ("file:engine=python,threads=2", "threads=2 needs engine=native"),
    ("network:engine=python,pin=1", "pin=1 needs engine=native"),
    ("process:engine=native,spawner=popen", "spawner=popen needs engine=python"),
    ("file:threads=0", "must be >= 1"),
    ("file:pin=maybe", "bad value for file:pin"), ("file:pin=2", "must be one of 0, 1"),
    ("network:protocols=sctp", "must be one of both, tcp, udp"),
])
def test_specs_that_cannot_mean_anything_are_one_line(text, needle):
    with pytest.raises(BadInput) as e:
        specmod.parse_workload(text)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_more_threads_than_cpus_is_refused(monkeypatch):
    monkeypatch.setattr(base, "usable_cpus", lambda: 2)
    assert specmod.parse_workload("file:engine=native,threads=2").settings["threads"] == 2
    with pytest.raises(BadInput, match="threads=3: is more than the 2 CPUs"):
        specmod.parse_workload("file:engine=native,threads=3")


def test_native_asked_for_but_not_built_names_the_make_target(unbuilt):
    specs = [specmod.parse_workload("file:engine=native")]
    with pytest.raises(BadInput, match=r"workload file:engine=native: .*run `make native`"):
        specmod.check_runnable(specs)
    # among workloads that can run, it is left to its cells (skipped rows), not refused
    specmod.check_runnable(specs + [specmod.parse_workload("network:engine=python")])
    assert get_workload("file").unavailable({"engine": "python"}) is None


def test_a_cell_of_an_unbuilt_engine_is_a_skipped_row(unbuilt, tmp_path):
    w = specmod.parse_workload("process:engine=native")
    rows = CellRunner(tmp_path / "out", tmp_path / "wd").run(
        Cell(0, 0, w, "1000", 0.5, None)).rows
    assert {r["status"] for r in rows} == {"skipped"}
    assert {r["reason"] for r in rows} == {NOT_BUILT}
    assert {r["kind"] for r in rows} == {"proc_fork", "proc_exec", "proc_exit"}
    assert {r["workload_engine"] for r in rows} == {"native"}
    assert not (tmp_path / "wd").exists()          # nothing was set up for it


def test_no_baseline_is_planned_for_an_unbuilt_engine(unbuilt):
    from bench.harness.spec import parse_backend

    cfg = runner.RunConfig([parse_backend("synthetic")],
                           [specmod.parse_workload("file:engine=native"),
                            specmod.parse_workload("file:engine=python")],
                           ["1000"], 0.5, 2, None)
    cells = runner.plan(cfg)
    native_cells = [c for c in cells if c.workload.settings["engine"] == "native"]
    assert [c.spec_text for c in native_cells] == ["synthetic", "synthetic"]
    assert all(c.baseline_id == "" for c in native_cells)
    python_cells = [c for c in cells if c.workload.settings["engine"] == "python"]
    assert sum(c.spec is None for c in python_cells) == 2   # one baseline per block


def test_rows_say_which_engine_and_threads_ran():
    w = specmod.parse_workload("network:engine=python")
    row = cellmod._base_row(Cell(0, 0, w, "max", 0.5, None), None)
    assert (row["workload_engine"], row["workload_threads"]) == ("python", 1)


def test_settings_reach_sb_load_one_line_each():
    text = config_text({"workload": "file", "rate": "max", "tap_fd": None, "threads": 2})
    assert text == b"workload file\nrate max\nthreads 2\n"
    with pytest.raises(ValueError, match="newline"):
        config_text({"workdir": "/tmp/a\nb"})


def test_sb_load_is_not_built_from_stale_sources(tmp_path, monkeypatch):
    binary = tmp_path / "sb-load"
    monkeypatch.setattr(native, "HERE", tmp_path)
    monkeypatch.setattr(native, "LOAD_BIN", binary)
    for src in native.LOAD_SOURCES:
        (tmp_path / src).write_text("")
    assert native.load_missing() == NOT_BUILT
    binary.write_text("")
    assert native.load_missing() is None and native.load_program() == str(binary)
    os.utime(tmp_path / "pacing.c", (binary.stat().st_mtime + 5,) * 2)
    assert "older than its sources: run `make native`" in native.load_missing()


# -- the native schedule is the Python one ----------------------------------------------

def _native_schedule(rate, duration, seed, arrivals, threads) -> list[tuple[int, int, int, int]]:
    program = native.load_program()
    if program is None:
        pytest.skip(native.load_missing())
    out = subprocess.run([program, "--schedule", str(rate), str(duration), str(seed),
                          arrivals, str(threads)], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return [tuple(map(int, line.split())) for line in out.splitlines()]


@pytest.mark.parametrize("rate,duration,seed,arrivals", [
    (1000, 0.5, 0, "poisson"), (2500, 0.2, 7, "poisson"), (333.3, 1, 2**40 + 3, "poisson"),
    (1000, 0.5, 0, "uniform"), (7, 0.1, 1, "poisson"),    # rounds to one op
    # bursts: a tenth of a second at 20000/s after every 0.4 s at the base rate
    (1000, 1.2, 3, "burst:on_ms=100,off_ms=400,peak=20000"),
    (333.3, 0.5, 2**40 + 3, "burst:on_ms=7.5,off_ms=20,peak=5000.5"),
])
def test_same_seed_same_intended_times_as_the_python_pacer(monkeypatch, rate, duration,
                                                           seed, arrivals):
    monkeypatch.setattr("time.sleep", lambda s: None)
    py = list(open_loop(rate, duration, clock=lambda: 0, arrivals=arrivals, seed=seed))
    c = sorted(_native_schedule(rate, duration, seed, arrivals, 1))
    assert [(op, t) for op, _thread, _j, t in c] == py


def test_threads_take_every_nth_op_of_the_one_schedule(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    py = dict(open_loop(3000, 0.1, clock=lambda: 0, seed=5))
    c = _native_schedule(3000, 0.1, 5, "poisson", 3)
    assert sorted(op for op, *_ in c) == sorted(py)
    for op, thread, j, t in c:
        assert (thread, j, t) == (op % 3, op // 3, py[op])


# -- where the file workload writes -----------------------------------------------------

def test_the_file_system_of_a_path_is_its_mount_s():
    from bench.harness.workdir import fs_type

    assert fs_type("/proc/self/status") == "proc"
    assert fs_type("/no/such/dir/below/root") == fs_type("/")


def test_tmpfs_work_directory_is_per_user_and_refused_without_a_tmpfs(monkeypatch):
    from bench.harness import workdir

    monkeypatch.setattr(workdir, "fs_type", lambda p: "tmpfs")
    assert workdir.tmpfs_base().name == f"sensorbench-{os.getuid()}"
    assert workdir.tmpfs_base().parent == workdir.TMPFS
    monkeypatch.setattr(workdir, "fs_type", lambda p: "ext4")
    with pytest.raises(BadInput, match="--tmpfs: /dev/shm is not a tmpfs here"):
        workdir.tmpfs_base()


@pytest.mark.parametrize("args,needle", [
    (["--tmpfs", "--workdir", "/tmp/x"], "--tmpfs and --workdir both say where to write"),
    (["-w", "file:engine=python,threads=2"], "threads=2 needs engine=native"),
])
def test_the_cli_refuses_in_one_line(tmp_path, args, needle):
    from tests.helpers import assert_run_refused

    assert_run_refused(tmp_path / "o", *args, says=needle)


def test_the_cli_refuses_an_unbuilt_native_engine_naming_make_native(unbuilt, tmp_path):
    from tests.helpers import cli_in_process

    r = cli_in_process("run", "-b", "synthetic", "-w", "network:engine=native",
                       "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "run `make native`" in r.stderr, r.stderr
