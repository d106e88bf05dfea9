"""A published number cannot outlive the code that made it: every backend setting a
committed results folder recorded (``meta.json``), and the engine and threads each cell's
workload ran with (``cells.parquet``), are what the same spec means today. When a default
changes, the folders it moves are re-published (``make reference``,
``make reference-scenarios``) or this fails, naming the setting."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from bench.harness.spec import parse_backend, parse_workload
from tests.helpers import ROOT
from workloads import get_workload
from workloads.native import load_missing

PUBLISHED = sorted(p.parent for p in (ROOT / "results").glob("*/meta.json"))
# what a cell records of how its workload ran, and the spec setting each must equal
WORKLOAD_FACTS = {"workload_engine": "engine", "workload_threads": "threads"}
# A folder known to be stale until it is re-published, with why (strict: once it is
# current, its entry must go). None today.
STALE: dict[str, str] = {}


def _metas(folder):
    """(where, meta) of a folder, or of each input of a merged one."""
    meta = json.loads((folder / "meta.json").read_text())
    if "merged_from" in meta:
        return [(f"{folder.name} ({m['path']})", m["meta"]) for m in meta["merged_from"]]
    return [(folder.name, meta)]


def _changed(spec: str, was: dict, now: dict) -> list[str]:
    return [f"{spec}: {key} recorded {was.get(key, '<absent>')!r}, "
            f"now {now.get(key, '<absent>')!r}"
            for key in sorted(set(was) | set(now))
            if was.get(key, "<absent>") != now.get(key, "<absent>")]


def stale_settings(meta: dict) -> list[str]:
    """'spec: key recorded X, now Y' for every backend setting a spec means differently
    today."""
    return [line for spec, rec in (meta.get("backends") or {}).items()
            for line in _changed(spec, rec.get("settings") or {}, parse_backend(spec).settings)]


def stale_workloads(cells: pd.DataFrame) -> list[str]:
    """The same for how each cell's workload ran; a folder whose cells do not record it
    predates the record, and so today's default engine."""
    missing = [c for c in ("workload_spec", *WORKLOAD_FACTS) if c not in cells.columns]
    if missing:
        return [f"cells do not record {', '.join(missing)}"]
    out = []
    ran = cells[["workload_spec", *WORKLOAD_FACTS]].dropna().drop_duplicates()
    for row in ran.itertuples(index=False):
        spec = parse_workload(row.workload_spec)
        # as a cell records them: an application recipe runs on no engine of the load
        # generator's ("recipe") and in one thread
        now = {"engine": get_workload(spec.name).engine(spec.settings),
               "threads": spec.settings.get("threads", 1)}
        was = {s: v for (c, s), v in zip(WORKLOAD_FACTS.items(), row[1:], strict=True)}
        out += _changed(row.workload_spec, was, now)
    return sorted(set(out))


def test_a_changed_default_is_named():
    meta = {"backends": {"psutil": {"settings": {**parse_backend("psutil").settings,
                                                 "interval_ms": 12345}}}}
    (line,) = stale_settings(meta)
    assert line.startswith("psutil: interval_ms recorded 12345, now ")
    assert stale_settings({"backends": {"psutil": {
        "settings": parse_backend("psutil").settings}}}) == []


def test_a_workload_run_another_way_is_named():
    now = parse_workload("file").settings
    cells = pd.DataFrame({"workload_spec": ["file", "file"],
                          "workload_engine": [now["engine"], "other"],
                          "workload_threads": [now["threads"], now["threads"]]})
    assert stale_workloads(cells) == [f"file: engine recorded 'other', now {now['engine']!r}"]
    assert stale_workloads(cells.iloc[:1]) == []
    assert stale_workloads(cells.drop(columns="workload_engine")) == [
        "cells do not record workload_engine"]


@pytest.mark.parametrize("folder", [
    pytest.param(p, id=p.name, marks=[pytest.mark.xfail(strict=True, reason=STALE[p.name])]
                 if p.name in STALE else []) for p in PUBLISHED])
def test_published_folders_were_made_by_todays_defaults(folder):
    if load_missing():
        # the default engine is native where it is built (make setup builds it): without
        # it, what the published specs mean on a set-up machine cannot be read here
        pytest.skip(f"today's default workload engine needs the native engine: {load_missing()}")
    stale = [f"{where}: {s}" for where, meta in _metas(folder) for s in stale_settings(meta)]
    stale += [f"{folder.name}: {s}" for s in stale_workloads(pd.read_parquet(
        folder / "cells.parquet"))]
    assert not stale, ("re-publish (make reference / make reference-scenarios): "
                       + "; ".join(stale[:8]) + (f" (+{len(stale) - 8})" if len(stale) > 8 else ""))


def test_a_recipe_is_read_as_it_runs():
    """An application recipe's cells record the engine "recipe" and one thread."""
    cells = pd.DataFrame({"workload_spec": ["copy:scale=2"], "workload_engine": ["recipe"],
                          "workload_threads": [1]})
    assert stale_workloads(cells) == []
    assert stale_workloads(cells.assign(workload_engine="native")) == [
        "copy:scale=2: engine recorded 'native', now 'recipe'"]
