"""merge (bench.results.merge) on folders built here, no run: each input's rows named by a
host (its hostname, ``#2``, ``#3``... for another machine of the same name; runs of one
machine, by its machine key, share one), with their source folder and machine facts;
events, scenarios and timelines carried with their host and run; meta.json keeping every
input's; and every bad input a one-line ``BadInput``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.core.errors import BadInput
from bench.results import schema, store
from bench.results.merge import MACHINE_COLUMNS, _hosts, merge
from bench.results.rundata import RunData
from bench.results.store import ResultsDir
from tests.helpers.constructed import MACHINE, cell_rows, latency_events, write_folder


def _machine(host: str | None = "alpha", key: str | None = None, **facts) -> dict:
    m = {**MACHINE, "hostname": host, **facts}
    if key is not None:
        m["machine_key"] = key
    return m


def _folder(path: Path, host: str | None = "alpha", key: str | None = None, *,
            kinds=("proc_exec",), events: bool = True, **facts) -> Path:
    """A folder of one synthetic cell (a row per kind), with an event per kind."""
    ev = [latency_events("synthetic", k, [10.0]) for k in kinds] if events else None
    return write_folder(path, cell_rows("synthetic", kinds), ev,
                        meta={"machine": _machine(host, key, **facts), "warnings": []})


def _hosts_of(tmp_path, *machines) -> list[str]:
    """The cells' hosts of a merge of one folder per (hostname, key)."""
    folders = [_folder(tmp_path / f"in{i}", h, k) for i, (h, k) in enumerate(machines)]
    merge(folders, tmp_path / "out")
    return list(pd.read_parquet(tmp_path / "out" / "cells.parquet")["host"])


# -- host names ---------------------------------------------------------------------------

def test_hosts_are_named_by_hostname(tmp_path):
    assert _hosts_of(tmp_path, ("alpha", "k1"), ("beta", "k2")) == ["alpha", "beta"]


def test_same_hostname_on_two_machines_stays_apart(tmp_path):
    assert _hosts_of(tmp_path, ("h", "aaaa"), ("h", "bbbb")) == ["h", "h#2"]


def test_two_runs_of_one_machine_are_one_host(tmp_path):
    assert _hosts_of(tmp_path, ("h", "aaaa"), ("h", "aaaa")) == ["h", "h"]


def test_runs_without_a_machine_key_stay_apart(tmp_path):
    # folders written before the key existed: a shared hostname may be two machines
    assert _hosts_of(tmp_path, ("h", None), ("h", None)) == ["h", "h#2"]


def test_host_numbers_count_machines_per_hostname():
    metas = [{"machine": _machine(h, k)} for h, k in
             [("h", "a"), ("g", "a"), ("h", "b"), ("h", "a"), ("h", "c"), ("g", "z")]]
    folders = [Path(f"/r/{i}") for i in range(len(metas))]
    assert _hosts(metas, folders) == ["h", "g", "h#2", "h", "h#3", "g#2"]


def test_a_folder_without_a_hostname_is_named_by_the_folder():
    metas = [{}, {"machine": None}, {"machine": {"hostname": ""}}, {"machine": {}}]
    folders = [Path("/r/one"), Path("/r/two"), Path("/s/one"), Path("/r/one")]
    # /s/one and /r/one share a name but are other folders: other machines
    assert _hosts(metas, folders) == ["one", "two", "one#2", "one"]


_MACHINES = st.lists(st.tuples(st.sampled_from(["h", "g", "f"]),
                               st.sampled_from([None, "k1", "k2"]),
                               st.sampled_from(["/a", "/b", "/c"])), min_size=1, max_size=8)


@settings(max_examples=150)
@given(_MACHINES)
def test_hosts_name_machines_one_to_one(inputs):
    metas = [{"machine": _machine(h, k)} for h, k, _ in inputs]
    names = _hosts(metas, [Path(f) for _, _, f in inputs])
    # one machine: its hostname with its key, else (no key) the folder it was run into
    machine = [(h, k or f"folder {f}") for h, k, f in inputs]
    for i in range(len(inputs)):
        for j in range(len(inputs)):
            assert (names[i] == names[j]) == (machine[i] == machine[j])
    for (h, _, _), name in zip(inputs, names):
        assert name == h or (name.startswith(f"{h}#") and int(name[len(h) + 1:]) >= 2)
    # the first machine of a hostname keeps it bare, the others count up from #2 in order
    for h in {h for h, _, _ in inputs}:
        seen = list(dict.fromkeys(n for (g, _, _), n in zip(inputs, names) if g == h))
        assert seen == [h, *(f"{h}#{n}" for n in range(2, len(seen) + 1))]


# -- what the merged folder holds ---------------------------------------------------------

def test_merge_of_two_hosts(tmp_path):
    a = _folder(tmp_path / "a", "alpha", "k1", kinds=("proc_exec", "file_create"))
    b = _folder(tmp_path / "b", "beta", "k2", kernel="6.1-b", cpu_model="B CPU",
                cpu_logical=8)
    out = merge([a, b], tmp_path / "new" / "m")          # made with its parents
    assert out == tmp_path / "new" / "m"
    cells = pd.read_parquet(out / "cells.parquet")
    assert list(cells["host"]) == ["alpha", "alpha", "beta"]
    assert list(cells["kind"]) == ["proc_exec", "file_create", "proc_exec"]
    assert list(cells["source"]) == [str(a), str(a), str(b)]
    assert list(cells["kernel"]) == ["6.0-test", "6.0-test", "6.1-b"]
    assert list(cells["cpu_model"]) == ["Test CPU", "Test CPU", "B CPU"]
    assert list(cells["cpu_logical"]) == [2, 2, 8]
    for c in ("host", "source", "kernel", "cpu_model"):
        assert str(cells[c].dtype) == "string", c
    assert str(cells["repeat"].dtype) == "Int64"        # the inputs' types are kept
    csv = pd.read_csv(out / "cells.csv")
    assert list(csv["host"]) == list(cells["host"]) and len(csv.columns) == len(cells.columns)
    ev = pd.read_parquet(out / "events.parquet")
    assert list(ev["host"]) == ["alpha", "alpha", "beta"]
    assert list(ev["kind"]) == ["proc_exec", "file_create", "proc_exec"]
    # the merged folder is a results folder its readers open, plain Parquet for the others
    # (DuckDB, Spark): no pandas index stored as a column of its own
    assert len(ResultsDir(out, create=False).cells()) == 3
    for table in ("cells", "events"):
        names = pq.read_table(out / f"{table}.parquet").column_names
        assert not [n for n in names if n.startswith("__index")], (table, names)


def test_meta_keeps_every_input(tmp_path):
    a = _folder(tmp_path / "a", "alpha", "k1")
    b = _folder(tmp_path / "b", "h", "k2")
    c = _folder(tmp_path / "c", "h", "k2")
    merge([a, b, c], tmp_path / "m")
    text = (tmp_path / "m" / "meta.json").read_text()
    assert text.startswith('{\n  "merged_from": [\n    {\n      "host": "alpha",')
    assert text.endswith("}\n")
    meta = json.loads(text)
    assert [(m["host"], m["path"]) for m in meta["merged_from"]] == \
        [("alpha", str(a)), ("h", str(b)), ("h", str(c))]
    assert meta["merged_from"][1]["meta"] == json.loads((b / "meta.json").read_text())
    assert meta["warnings"] == []
    assert meta["machine"] == {"hostname": "alpha+h"}     # each host once
    assert ResultsDir(tmp_path / "m", create=False).meta() == meta   # a valid meta.json
    assert not list((tmp_path / "m").glob("*.tmp"))


def test_machine_columns_the_rows_have_are_kept(tmp_path):
    # rows that carry their own machine facts (a newer writer) win over meta.json's
    rows = cell_rows("synthetic", kernel="row-kernel", cpu_model="row CPU")
    a = write_folder(tmp_path / "a", rows, meta={"machine": _machine("alpha", "k1")})
    b = write_folder(tmp_path / "b", cell_rows("synthetic"),
                     meta={"machine": {"hostname": "beta"}})      # no facts in meta
    merge([a, b], tmp_path / "m")
    cells = pd.read_parquet(tmp_path / "m" / "cells.parquet")
    assert list(cells["kernel"].astype(object).fillna("-")) == ["row-kernel", "-"]
    assert list(cells["cpu_model"].astype(object).fillna("-")) == ["row CPU", "-"]
    assert list(cells["cpu_logical"].astype(object).fillna(-1)) == [2, -1]
    assert set(MACHINE_COLUMNS) <= set(cells.columns)


def test_a_merged_folder_merges_again_keeping_its_hosts(tmp_path):
    ab = merge([_folder(tmp_path / "a", "alpha", "k1"), _folder(tmp_path / "b", "beta", "k2")],
               tmp_path / "ab")
    c = _folder(tmp_path / "c", "gamma", "k3")
    merge([ab, c], tmp_path / "abc")
    cells = pd.read_parquet(tmp_path / "abc" / "cells.parquet")
    assert list(cells.columns) == list(pd.read_parquet(ab / "cells.parquet").columns)
    assert list(cells["host"]) == ["alpha", "beta", "gamma"]
    assert str(cells["host"].dtype) == "string"
    assert list(cells["source"]) == [str(ab), str(ab), str(c)]   # the input folder
    assert list(pd.read_parquet(tmp_path / "abc" / "events.parquet")["host"]) == \
        ["alpha", "beta", "gamma"]


def test_events_are_merged_from_the_inputs_that_have_them(tmp_path):
    a = _folder(tmp_path / "a", "alpha", "k1")
    b = _folder(tmp_path / "b", "beta", "k2", events=False)
    merge([a, b], tmp_path / "m")
    assert list(pd.read_parquet(tmp_path / "m" / "events.parquet")["host"]) == ["alpha"]
    c = _folder(tmp_path / "c", "gamma", "k3", events=False)
    merge([b, c], tmp_path / "n")
    assert not (tmp_path / "n" / "events.parquet").exists()
    assert not (tmp_path / "n" / "scenarios.parquet").exists()
    assert not (tmp_path / "n" / "timeline.parquet").exists()


def _with_scenario(path: Path, host: str, key: str, blind_ms: float, steps: int,
                   scenario_host: str | None = None) -> Path:
    """A folder of one failure scenario with a timeline of ``steps`` rows."""
    res = ResultsDir(path)
    res.write_meta({"machine": _machine(host, key)})
    cell = "crash~inotify|file|1000|0"
    res.add_cell(cell_rows("inotify", workload="file", cell=cell), None, None, cell)
    row = {"scenario": "crash", "case": "crash", "cell": cell, "spec": "inotify",
           "outcome": "sensor-crashed", "blind_ms": blind_ms, "crashed": True}
    if scenario_host:
        row["host"] = scenario_host
    res.add_scenario(row, pd.DataFrame({"cell": cell, "t_ms": range(0, 10 * steps, 10),
                                        "state": "ready"}))
    res.finalize()
    return path


def test_scenarios_and_timelines_are_carried_with_their_host(tmp_path):
    a = _with_scenario(tmp_path / "a", "alpha", "k1", 150.0, 3)
    b = _with_scenario(tmp_path / "b", "beta", "k2", 300.0, 2, scenario_host="older")
    c = _folder(tmp_path / "c", "gamma", "k3")                     # no scenarios
    merge([a, b, c], tmp_path / "m")
    sc = pd.read_parquet(tmp_path / "m" / "scenarios.parquet")
    # a scenario row that names its host (an earlier merge's) keeps it
    assert list(sc["host"]) == ["alpha", "older"] and list(sc["blind_ms"]) == [150.0, 300.0]
    assert str(sc["blind_ms"].dtype) == "float64" and str(sc["crashed"].dtype) == "boolean"
    csv = pd.read_csv(tmp_path / "m" / "scenarios.csv")
    assert list(csv.columns) == list(sc.columns) and list(csv["host"]) == ["alpha", "older"]
    for table in ("scenarios", "timeline"):     # plain Parquet: no pandas index column
        assert "__index_level_0__" not in pq.read_table(tmp_path / "m" / f"{table}.parquet"
                                                        ).column_names, table
    tl = pd.read_parquet(tmp_path / "m" / "timeline.parquet")
    assert list(tl["host"]) == ["alpha"] * 3 + ["beta"] * 2
    assert list(tl["t_ms"]) == [0, 10, 20, 0, 10]


# -- runs -----------------------------------------------------------------------------------

def _run_and_its_rerun(tmp_path, meta_a: dict, meta_b: dict) -> Path:
    """Folder a (one psutil cell, 1.87 % CPU) and b, the same cell of another run of the
    same machine (5.61 %): one host, one cell id."""
    a = write_folder(tmp_path / "a", cell_rows("psutil", sensor_cpu_pct=1.87), meta=meta_a)
    shutil.copytree(a, tmp_path / "b")
    b = ResultsDir(tmp_path / "b")
    rows = b.rows()
    for r in rows:
        r["sensor_cpu_pct"] = 5.61
    b.replace_rows(rows)
    b.write_meta(meta_b)
    return merge([a, tmp_path / "b"], tmp_path / "m")


@pytest.mark.parametrize("ids", [(None, None), ("run-a", "run-b")])
def test_two_runs_of_one_machine_both_count(tmp_path, ids):
    """Cell ids are unique within a run only: both runs' cells reach the read model, as two
    repeats of one series (the first of each pair used to hide the second). Folders from
    before runs had ids get one derived from their folder."""
    metas = [{"machine": _machine("h", "k"), **({"run_id": i} if i else {})} for i in ids]
    out = _run_and_its_rerun(tmp_path, *metas)
    run = RunData.load(out)
    pc = run.per_cell
    assert sorted(pc["sensor_cpu_pct"]) == [1.87, 5.61] and pc["host"].nunique() == 1
    (c,) = run.cells.to_dict("records")
    assert c["repeats"] == 2 and c["sensor_cpu_pct"] == pytest.approx((1.87 + 5.61) / 2)
    cells = pd.read_parquet(out / "cells.parquet")
    assert list(cells["sensor_cpu_pct"]) == [1.87, 5.61]
    assert cells["run"].nunique() == 2 and cells["cell"].nunique() == 1
    if ids[0]:
        assert list(cells["run"]) == list(ids)
    meta = json.loads((out / "meta.json").read_text())
    assert [m["runs"] for m in meta["merged_from"]] == [[r] for r in cells["run"]]


def test_a_run_and_its_copy_are_not_two_runs(tmp_path):
    meta = {"machine": _machine("h", "k"), "run_id": "same"}
    with pytest.raises(BadInput, match=r"hold the same run \(same\): merge each run once"):
        _run_and_its_rerun(tmp_path, meta, meta)
    assert not (tmp_path / "m").exists()


def test_a_merged_folder_keeps_its_runs(tmp_path):
    metas = [{"machine": _machine("h", "k"), "run_id": i} for i in ("r1", "r2")]
    ab = _run_and_its_rerun(tmp_path, *metas)
    c = write_folder(tmp_path / "c", cell_rows("psutil"),
                     meta={"machine": _machine("h", "k"), "run_id": "r3"})
    merge([ab, c], tmp_path / "abc")
    assert list(pd.read_parquet(tmp_path / "abc" / "cells.parquet")["run"]) == ["r1", "r2", "r3"]
    with pytest.raises(BadInput, match=r"hold the same run \(r2\)"):   # the one they share
        merge([ab, tmp_path / "b"], tmp_path / "again")    # b is in ab already


def test_every_table_names_the_run_of_its_rows(tmp_path):
    a = _with_scenario(tmp_path / "a", "alpha", "k1", 150.0, 3)     # a scenario, no events
    b = _folder(tmp_path / "b", "beta", "k2")                        # events, no scenario
    out = merge([a, b], tmp_path / "m")
    run = dict(pd.read_parquet(out / "cells.parquet")[["source", "run"]].values)
    assert run[str(a)] != run[str(b)]
    assert list(pd.read_parquet(out / "scenarios.parquet")["run"]) == [run[str(a)]]
    assert list(pd.read_parquet(out / "timeline.parquet")["run"]) == [run[str(a)]] * 3
    assert list(pd.read_parquet(out / "events.parquet")["run"]) == [run[str(b)]]


def test_a_folder_merged_before_runs_had_ids_gets_no_run_made_up(tmp_path):
    # Its tables name no run (its cells' runs come from their source folders): merged
    # again, its events stay without one rather than all get one, the merged folder's own.
    ab = merge([_folder(tmp_path / "a", "alpha", "k1"), _folder(tmp_path / "b", "beta", "k2")],
               tmp_path / "ab")
    for table in ("cells", "events"):
        pd.read_parquet(ab / f"{table}.parquet").drop(columns="run").to_parquet(
            ab / f"{table}.parquet", index=False)
    c = _folder(tmp_path / "c", "gamma", "k3")
    out = merge([ab, c], tmp_path / "abc")
    cells = pd.read_parquet(out / "cells.parquet")
    ev = pd.read_parquet(out / "events.parquet")
    assert list(ev["host"]) == ["alpha", "beta", "gamma"]
    assert ev["run"].isna().tolist() == [True, True, False]
    assert ev["run"].iloc[2] == cells["run"].iloc[2]


# -- the store writes it --------------------------------------------------------------------

def test_merge_adds_only_declared_columns(tmp_path):
    a = _with_scenario(tmp_path / "a", "alpha", "k1", 150.0, 3)
    b = _folder(tmp_path / "b", "beta", "k2")
    out = merge([a, b], tmp_path / "m")
    for table, dtypes in (("cells", schema.DTYPES), ("events", schema.EVENT_DTYPES),
                          ("scenarios", schema.SCENARIO_DTYPES),
                          ("timeline", schema.TIMELINE_DTYPES)):
        df = pd.read_parquet(out / f"{table}.parquet")
        assert schema.undeclared(df.columns, dtypes) == [], table
        for c in df.columns:
            assert str(df[c].dtype) == dtypes[c], (table, c, df[c].dtype)


def test_merge_writes_the_folder_at_once(tmp_path, monkeypatch):
    """Into a temporary folder renamed into place: a merge cut off leaves no half folder,
    and nothing of its own."""
    a, b = _folder(tmp_path / "a", "alpha", "k1"), _folder(tmp_path / "b", "beta", "k2")

    def cut(df):
        (tmp,) = tmp_path.glob(".*.tmp-*")                # the cells are written in there
        assert (tmp / "cells.parquet").exists()
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "events_frame", cut)     # after the cells, before the rest
    with pytest.raises(KeyboardInterrupt):
        merge([a, b], tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(KeyboardInterrupt):
        merge([a, b], tmp_path / "empty")
    assert list((tmp_path / "empty").iterdir()) == []   # the empty folder is left as it was
    monkeypatch.undo()
    out = merge([a, b], tmp_path / "m")
    assert sorted(p.name for p in out.iterdir()) == ["cells.csv", "cells.parquet",
                                                      "events.parquet", "meta.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "empty", "m"]


# -- bad input ----------------------------------------------------------------------------

def _bad(folders, out) -> str:
    with pytest.raises(BadInput) as e:
        merge(folders, out)
    assert "\n" not in str(e.value)
    return str(e.value)


def test_merge_needs_two_folders(tmp_path):
    a = _folder(tmp_path / "a")
    assert _bad([a], tmp_path / "m") == "merge needs at least two results folders"
    assert _bad([], tmp_path / "m") == "merge needs at least two results folders"
    assert not (tmp_path / "m").exists()


def test_an_input_that_is_not_a_folder(tmp_path):
    a = _folder(tmp_path / "a")
    (tmp_path / "file").write_text("")
    for missing in (tmp_path / "nowhere", tmp_path / "file"):
        assert _bad([a, missing], tmp_path / "m") == \
            f"{missing} is not a results folder (no such directory)"
    (tmp_path / "empty").mkdir()
    assert "is not a sensorbench results folder" in _bad([a, tmp_path / "empty"],
                                                         tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_out_may_not_be_an_input(tmp_path):
    a, b = _folder(tmp_path / "a"), _folder(tmp_path / "b", "beta")
    assert _bad([a, b], tmp_path / "x" / ".." / "b") == f"--out {tmp_path / 'x' / '..' / 'b'} is one of the inputs"
    assert _bad([str(a), str(b)], a) == f"--out {a} is one of the inputs"   # str paths too


def test_out_must_be_new_or_empty(tmp_path):
    a, b = _folder(tmp_path / "a"), _folder(tmp_path / "b", "beta")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    assert _bad([a, b], tmp_path / "full") == f"--out {tmp_path / 'full'} exists and is not empty"
    assert (tmp_path / "full" / "x").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    merge([a, b], tmp_path / "empty")                 # an empty folder will do
    assert (tmp_path / "empty" / "cells.parquet").exists()


def test_out_that_is_a_file_is_refused(tmp_path):
    a, b = _folder(tmp_path / "a"), _folder(tmp_path / "b", "beta")
    (tmp_path / "file").write_text("keep me")
    assert _bad([a, b], tmp_path / "file") == f"--out {tmp_path / 'file'} is not a folder"
    assert (tmp_path / "file").read_text() == "keep me"
    assert _bad([a, b], tmp_path / "file" / "m").startswith(
        f"cannot write to {tmp_path / 'file' / 'm'}: ")


def test_unreadable_inputs_are_one_line_naming_the_file(tmp_path):
    a, b = _folder(tmp_path / "a"), _folder(tmp_path / "b", "beta")
    (b / "events.parquet").write_bytes(b"not parquet")
    assert _bad([a, b], tmp_path / "m").startswith(
        f"cannot read {b / 'events.parquet'}: ArrowInvalid: ")
    (b / "events.parquet").unlink()
    (b / "meta.json").write_text("{not json")
    assert _bad([a, b], tmp_path / "n").startswith(f"cannot read {b / 'meta.json'}: ")
    assert not (tmp_path / "n").exists()
