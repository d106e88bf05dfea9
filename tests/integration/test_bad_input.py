"""No input may end in a traceback: every command's options and every file a command reads
(cells, events, meta, the per-cell parts a resume reads, logs), empty, truncated and of the
wrong type. Bad input is one line and exit 2; a report of a folder whose cells are intact
but whose metadata is not still renders, with a warning.

The CLI runs in this process (``bench.cli.main``), so that any exception other than its own
exit is the traceback a user would have seen.
"""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from tests.helpers import sensorbench
from tests.helpers.plugin_backends import PLUGINS


def cli(capsys, monkeypatch, *args: str) -> tuple[int, str, str]:
    """Run ``sensorbench ARGS`` in-process; (exit code, stdout, stderr)."""
    from bench import cli as climod

    monkeypatch.setattr(sys, "argv", ["sensorbench", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as ex:
        climod.main()
    out, err = capsys.readouterr()
    code = ex.value.code
    return (code if isinstance(code, int) else 0 if code is None else 1), out, err


def _one_line(err: str) -> bool:
    return len([ln for ln in err.splitlines() if ln.strip()]) == 1


# -- options ------------------------------------------------------------------------------

RUN = ["run", "--no-report"]
OPTION_CASES = [
    RUN + ["-b", ",,,"],
    RUN + ["-b", ""],
    RUN + ["-b", " , "],
    RUN + ["-w", ","],
    RUN + ["-r", ",,"],
    RUN + ["-b", "synthetic:"],
    RUN + ["-b", ":delay_us=1"],
    RUN + ["-b", "synthetic:delay_us="],
    RUN + ["-b", "synthetic:delay_us=nan"],
    RUN + ["-b", "synthetic:delay_us=-1"],
    RUN + ["-b", "synthetic:drop=2"],
    RUN + ["-b", "synthetic:=1"],
    RUN + ["-b", "synthetic:delay_us=1:2"],
    RUN + ["-w", "file:nope=1"],
    RUN + ["-w", "process:lifetime_ms=-1"],
    RUN + ["-w", "nosuch"],
    RUN + ["-b", "synthetic", "-d", "nan"],
    RUN + ["-b", "synthetic", "-d", "inf"],
    RUN + ["-b", "synthetic", "-d", "-1"],
    RUN + ["-b", "synthetic", "-d", "abc"],
    RUN + ["-b", "synthetic", "-n", "abc"],
    RUN + ["-b", "synthetic", "-n", "-1"],
    RUN + ["-b", "synthetic", "-r", "1e400"],
    RUN + ["-b", "synthetic", "-r", "nan"],
    RUN + ["-b", "synthetic", "-r", "-inf"],
    RUN + ["-b", "synthetic", "--arrivals", "bursty"],
    RUN + ["-b", "synthetic", "--idle", "0"],
    RUN + ["-b", "synthetic", "--idle", "nan"],
    RUN + ["-b", "synthetic:work_us=-1"],
    RUN + ["-b", "synthetic:idle_pct=100"],
    RUN + ["-b", "synthetic", "--out", "/dev/null"],
    RUN + ["-b", "synthetic", "--out", "/proc/1/sensorbench"],
    RUN + ["-b", "synthetic", "--workdir", "/dev/null"],
    RUN + ["-b", "synthetic", "--resume"],
    RUN + ["-b", "absent"],
    ["report", "/nonexistent/results"],
    ["report", "/etc/hostname"],
    ["report"],
    ["compare", "/nonexistent/a", "/nonexistent/b"],
    ["compare", "/etc", "/etc"],
    ["merge", "/nonexistent/a"],
    ["merge", "/nonexistent/a", "/nonexistent/b", "--out", "/tmp/x"],
    ["nosuchcommand"],
    ["run", "--bogus"],
]


@pytest.mark.parametrize("args", OPTION_CASES, ids=[" ".join(a) or "-" for a in OPTION_CASES])
def test_bad_option_is_exit_2_without_traceback(capsys, monkeypatch, args, tmp_path):
    monkeypatch.setenv("SENSORBENCH_BACKENDS", PLUGINS)
    monkeypatch.chdir(tmp_path)  # a default results/runs/<time> would land here
    code, out, err = cli(capsys, monkeypatch, *args)
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err
    assert not (tmp_path / "results").exists(), "a bad run wrote results"


@pytest.mark.parametrize("args,msg", [
    (["-b", ",,,"], "--backend/-b names nothing"),
    (["-w", ","], "--workload/-w names nothing"),
    (["-r", ",,"], "--rate/-r names nothing"),
    (["-b", "synthetic", "-r", "1e400"], "must be > 0"),
])
def test_empty_or_absurd_lists_say_so_in_one_line(capsys, monkeypatch, args, msg):
    code, _, err = cli(capsys, monkeypatch, *RUN, *args)
    assert code == 2 and msg in err and _one_line(err), err


# -- files --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """A small finished run (kept as it was: each test works on a copy)."""
    out = tmp_path_factory.mktemp("good") / "run"
    sensorbench("run", "-b", "synthetic", "-w", "network", "-r", "200", "-d", "0.5", "-n", "2",
                "--out", str(out), "--no-report", check=True)
    return out


def _copy(good_run, tmp_path, name="run"):
    dst = tmp_path / name
    shutil.copytree(good_run, dst)
    return dst


def _corrupt(path, how: str) -> None:
    data = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "wrong-type":
        path.write_bytes({".json": b"[1, 2, 3]", ".jsonl": b'{"cell": 5}\n[1]\n"x"\n',
                          ".csv": b"\x00\xff\xfe garbage\n1,2\n", ".npy": b"not numpy",
                          ".parquet": b"a,b\n1,2\n"}[path.suffix])
    elif how == "other-json":  # valid JSON, wrong shape inside
        path.write_text(json.dumps({"machine": 5, "warnings": "none", "plan": [1],
                                    "backends": 3}))


FILES = {
    "meta.json": ("meta.json", ["empty", "truncated", "wrong-type", "other-json"]),
    "cells.parquet": ("cells.parquet", ["empty", "truncated", "wrong-type"]),
    "events.parquet": ("events.parquet", ["empty", "truncated", "wrong-type"]),
    "cells.jsonl": (".parts/cells.jsonl", ["empty", "truncated", "wrong-type"]),
    "optimes": (".parts/optimes-*.npy", ["empty", "truncated", "wrong-type"]),
}
FILE_CASES = [(f, how) for f, (_, hows) in FILES.items() for how in hows]


def _target(folder, key):
    pattern = FILES[key][0]
    found = sorted(folder.glob(pattern))
    assert found, f"no {pattern} in {folder}"
    return found


@pytest.mark.parametrize("command", ["report", "compare", "merge", "resume"])
@pytest.mark.parametrize("file,how", FILE_CASES, ids=[f"{f}-{h}" for f, h in FILE_CASES])
def test_damaged_file_never_tracebacks(capsys, monkeypatch, good_run, tmp_path, command,
                                       file, how):
    bad = _copy(good_run, tmp_path, "bad")
    for p in _target(bad, file):
        _corrupt(p, how)
    if command == "report":
        args = ["report", str(bad)]
    elif command == "compare":
        args = ["compare", str(_copy(good_run, tmp_path, "good")), str(bad)]
    elif command == "merge":
        args = ["merge", str(_copy(good_run, tmp_path, "good")), str(bad),
                "--out", str(tmp_path / "merged")]
    else:
        args = ["run", "-b", "synthetic", "-w", "network", "-r", "200", "-d", "0.5", "-n", "2",
                "--out", str(bad), "--no-report", "--resume"]
    code, out, err = cli(capsys, monkeypatch, *args)
    assert "Traceback" not in out + err
    assert code in (0, 1, 2), (code, err)
    if code == 2:
        errors = [ln for ln in err.splitlines()
                  if ln.strip() and not ln.startswith(("warning:", "missing:"))]
        assert len(errors) == 1, err
        return
    # Carried on: the file was not needed, or what it held was rebuilt or flagged.
    if command == "report" and file == "meta.json":
        assert "meta.json" in err and "not shown" in err, err


def test_report_of_intact_cells_with_broken_meta_renders_and_warns(capsys, monkeypatch,
                                                                    good_run, tmp_path):
    bad = _copy(good_run, tmp_path)
    (bad / "meta.json").write_text("{not json")
    code, out, err = cli(capsys, monkeypatch, "report", str(bad))
    assert code == 0, err
    assert "cannot read" in err and "meta.json" in err
    html = (bad / "report.html").read_text()
    assert "meta.json" in html and "synthetic" in html


@pytest.mark.parametrize("command", ["compare", "merge"])
def test_broken_meta_is_one_line_naming_the_file_for_compare_and_merge(capsys, monkeypatch,
                                                                       good_run, tmp_path,
                                                                       command):
    bad = _copy(good_run, tmp_path, "bad")
    (bad / "meta.json").write_text("{not json")
    good = _copy(good_run, tmp_path, "good")
    extra = ["--out", str(tmp_path / "m")] if command == "merge" else []
    code, _, err = cli(capsys, monkeypatch, command, str(good), str(bad), *extra)
    assert code == 2 and _one_line(err) and str(bad / "meta.json") in err, err


def test_a_cell_cut_off_while_being_written_runs_again_on_resume(capsys, monkeypatch,
                                                                 good_run, tmp_path):
    run = _copy(good_run, tmp_path)
    jl = run / ".parts" / "cells.jsonl"
    lines = jl.read_text().splitlines()
    # The last cell's rows made it to disk but its commit line did not (and one row is cut).
    jl.write_text("\n".join(lines[:-2]) + "\n" + lines[-2][:20])
    code, _, err = cli(capsys, monkeypatch, "run", "-b", "synthetic", "-w", "network",
                       "-r", "200", "-d", "0.5", "-n", "2", "--out", str(run), "--no-report",
                       "--resume")
    assert code == 0, err
    import pandas as pd

    cells = pd.read_csv(run / "cells.csv")
    assert cells["cell"].nunique() == 4 and not cells.duplicated(["cell", "kind"]).any()


# -- resume with another plan -------------------------------------------------------------

RESUME = ["run", "-b", "synthetic", "-w", "network", "-d", "0.5", "-n", "2", "--no-report",
          "--resume"]


@pytest.mark.parametrize("change,what", [
    (["-r", "200", "-d", "1"], "duration_s"),
    (["-r", "300"], "rates without 200"),
    (["-r", "200", "--no-baseline"], "baseline"),
    (["-r", "200", "--arrivals", "uniform"], "arrivals"),
])
def test_resume_with_another_plan_is_refused(capsys, monkeypatch, good_run, tmp_path, change,
                                             what):
    run = _copy(good_run, tmp_path)
    args = [a for a in RESUME if a != "-d" and a != "0.5"] if "-d" in change else RESUME
    code, _, err = cli(capsys, monkeypatch, *args, *change, "--out", str(run))
    assert code == 2 and _one_line(err) and what in err, err


def test_resume_that_only_adds_cells_extends_the_run_and_keeps_both_plans(capsys, monkeypatch,
                                                                          good_run, tmp_path):
    run = _copy(good_run, tmp_path)
    code, _, err = cli(capsys, monkeypatch, *RESUME, "-r", "200,400", "--out", str(run))
    said = " ".join(err.split())   # the console wraps long lines at its width
    assert code == 0 and "extending the run" in said and "rates + 400" in said, err
    meta = json.loads((run / "meta.json").read_text())
    assert [p["rates"] for p in meta["plans"]] == [["200"], ["200", "400"]]
    import pandas as pd

    assert set(pd.read_csv(run / "cells.csv")["rate_target"].astype(str)) == {"200", "400"}
