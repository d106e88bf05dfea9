"""The results folder: one model, written cell by cell, read back by report and compare.

Layout: ``cells.parquet`` and ``cells.csv`` (one row per cell x kind), ``events.parquet``
(matched events: a sample of at most ``EVENTS_PER_CELL`` per cell), ``meta.json``,
``logs/``. Per-cell pieces live in ``.parts/`` until the run finishes, so a run killed
halfway keeps every finished cell and ``--resume`` continues from there. ``.parts/cells.jsonl`` gets a cell's rows followed by a line that
commits them: a run killed while writing a cell leaves rows without their commit, which
the next reader ignores (that cell runs again). Every file is replaced atomically.

Every table is written in the order and types its schema declares (``bench.results.schema``);
the rows hold what the run measured, never an estimate over blocks (the read model computes
those). ``meta.json`` names the run (``run_id``): a cell's id is unique within its run only.
``write_folder`` writes a whole folder at once (``merge``), into a temporary folder renamed
into place.

Files that cannot be read (empty, truncated, not what they should be) are a ``BadInput``
naming the file, never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from bench.analysis.blocks import cell_mean
from bench.core.errors import BadInput
from bench.results.schema import (DTYPES, EVENT_COLUMNS, EVENT_DTYPES, SCENARIO_COLUMNS,
                                  SCENARIO_DTYPES, STORED, TIMELINE_COLUMNS, TIMELINE_DTYPES)

SCENARIO_NAMES = tuple(c.name for c in SCENARIO_COLUMNS)
EVENT_NAMES = tuple(c.name for c in EVENT_COLUMNS)
TIMELINE_NAMES = tuple(c.name for c in TIMELINE_COLUMNS)


def derived_run_id(folder: str | Path, meta: dict) -> str:
    """The id of a run made before runs had one: the same every time the folder is read,
    and another for a copy of it (the folder's path is part of it)."""
    key = json.dumps([str(Path(folder).resolve()), meta.get("started"),
                      (meta.get("machine") or {}).get("hostname")
                      if isinstance(meta.get("machine"), dict) else None], default=str)
    return "old-" + hashlib.sha1(key.encode()).hexdigest()[:12]


def row_runs(df: pd.DataFrame, meta: dict, folder: Path) -> pd.Series:
    """The run of each row of a cells table read from ``folder``: a merged folder names it
    in its ``run`` column (or, merged before runs had ids, by its ``source`` folder);
    every row of any other folder belongs to the folder's run."""
    if "run" in df.columns:
        return df["run"].astype("string")
    if "source" in df.columns:
        metas = {str(m.get("path")): m.get("meta") or {}
                 for m in meta.get("merged_from") or [] if isinstance(m, dict)}
        return df["source"].astype("string").map(
            lambda s: derived_run_id(s, metas.get(str(s), {}))).astype("string")
    return pd.Series(run_id(meta, folder), index=df.index, dtype="string")


def run_id(meta: dict, folder: Path) -> str:
    """The run of a (not merged) folder: ``meta.json``'s ``run_id``, or for a folder made
    before runs had one, an id derived from it."""
    rid = meta.get("run_id")
    return rid if isinstance(rid, str) and rid else derived_run_id(folder, meta)


# The events file keeps at most this many of a cell's matched events, a uniform sample:
# enough for the latency ECDF (drawn through 400 quantiles, each placed by thousands of
# events per kind), and a cell's share of events.parquet stays near half a megabyte at any
# rate (a 5-second cell at 300 k operations a second has 1.5 M events). Percentiles come
# from the rows' histograms (``latency_hist``), never from the sample.
EVENTS_PER_CELL = 20_000


def event_sample(events: pd.DataFrame, cell_id: str) -> pd.DataFrame:
    """At most ``EVENTS_PER_CELL`` of a cell's events, drawn uniformly and kept in their
    order: the same ones each time for the same cell (the draw is seeded by its id)."""
    if len(events) <= EVENTS_PER_CELL:
        return events
    seed = int.from_bytes(hashlib.sha256(cell_id.encode()).digest()[:8], "little")
    keep = np.random.default_rng(seed).choice(len(events), EVENTS_PER_CELL, replace=False)
    return events.iloc[np.sort(keep)]


def _slug(cell_id: str) -> str:
    return hashlib.sha1(cell_id.encode()).hexdigest()[:12]


class ResultsDir:
    def __init__(self, path: str | Path, create: bool = True):
        self.path = Path(path)
        self.parts = self.path / ".parts"
        if create:
            try:
                self.parts.mkdir(parents=True, exist_ok=True)
                probe = self.path / ".write-test"
                probe.write_text("")
                probe.unlink()
            except OSError as e:
                raise BadInput(f"cannot write results to {self.path}: {e.strerror}") from None
        elif not (self.path / "cells.parquet").exists() and not (self.path / "cells.csv").exists():
            raise BadInput(f"{self.path} is not a sensorbench results folder (no cells.parquet)")
        self._rows: list[dict] = []
        # Whether cells.jsonl holds more than the committed cells (a cell cut off by a kill,
        # or a folder written before commit lines): it is rewritten before a cell is added,
        # else the cut cell's rows, once it runs again and commits, would count twice.
        self._untidy = False
        jl = self.parts / "cells.jsonl"
        if create and jl.exists():
            self._rows, self._untidy = _read_committed(jl)
        self._scenarios: list[dict] = []
        sj = self.parts / "scenarios.jsonl"
        if create and sj.exists():
            done = self.done()
            self._scenarios = [r for r in _read_lines(sj) if r.get("cell") in done]

    # -- writing ------------------------------------------------------------------------
    def write_meta(self, meta: dict) -> None:
        path = self.path / "meta.json"
        old = self.meta()
        if old:
            merged = dict(old)
            for k, v in meta.items():
                # Dicts merge one level deep so a resumed run keeps earlier cells' stats.
                merged[k] = {**old[k], **v} if isinstance(v, dict) and isinstance(old.get(k), dict) else v
            meta = merged
        _replace(path, json.dumps(meta, indent=2, default=str) + "\n")

    def done(self) -> set[str]:
        return {r["cell"] for r in self._rows}

    def add_cell(self, rows: list[dict], events: pd.DataFrame | None,
                 op_times: np.ndarray | None, cell_id: str) -> None:
        slug = _slug(cell_id)
        # Pieces first, atomically, then the rows and their commit: a kill at any point
        # leaves either a whole cell or one that runs again.
        if events is not None and len(events):
            _replace_parquet(events_frame(event_sample(events, cell_id)),
                             self.parts / f"events-{slug}.parquet")
        if op_times is not None:
            tmp = self.parts / f"optimes-{slug}.tmp.npy"
            np.save(tmp, op_times)
            os.replace(tmp, self.parts / f"optimes-{slug}.npy")
        if self._untidy:
            self._write_lines(self._rows)
        lines = [json.dumps(r, default=_json_default) for r in rows]
        lines.append(json.dumps({_COMMIT: cell_id}))
        with open(self.parts / "cells.jsonl", "a") as f:
            f.write("\n".join(lines) + "\n")
        self._rows.extend(rows)
        self.write_cells()

    def add_scenario(self, row: dict, timeline: pd.DataFrame | None) -> None:
        """A failure scenario's row and timeline, after its cell (``add_cell``)."""
        if timeline is not None and len(timeline):
            _replace_parquet(timeline_frame(timeline),
                             self.parts / f"timeline-{_slug(row['cell'])}.parquet")
        with open(self.parts / "scenarios.jsonl", "a") as f:
            f.write(json.dumps(row, default=_json_default) + "\n")
        self._scenarios.append(row)
        self.write_scenarios()

    def write_scenarios(self) -> None:
        df = scenarios_frame(self._scenarios)
        _replace_parquet(df, self.path / "scenarios.parquet")
        _replace(self.path / "scenarios.csv", df.to_csv(index=False))

    def op_times(self, cell_id: str) -> np.ndarray | None:
        """A cell's per-operation times; None when missing or unreadable (no slowdown for
        that cell rather than no run)."""
        p = self.parts / f"optimes-{_slug(cell_id)}.npy"
        try:
            return np.load(p) if p.exists() else None
        except (OSError, ValueError, EOFError):
            return None

    def with_op_times(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` (this folder's cells) with every cell's mean time per operation
        (``op_time_ns``): a folder written before cells stored it (resumed, or not yet
        finished) has each cell's times in ``.parts``."""
        if "op_time_ns" not in df.columns:
            df["op_time_ns"] = np.nan
        if not self.parts.is_dir():
            return df
        missing = df["op_time_ns"].isna()
        for cell in df.loc[missing, "cell"].unique():
            times = self.op_times(cell)
            if times is not None:
                df.loc[missing & (df["cell"] == cell), "op_time_ns"] = cell_mean(times)
        return df

    def rows(self) -> list[dict]:
        return list(self._rows)

    def replace_rows(self, rows: list[dict]) -> None:
        self._rows = rows
        self._write_lines(rows)
        self.write_cells()

    def _write_lines(self, rows: list[dict]) -> None:
        """cells.jsonl holding ``rows`` and their commits, and nothing else."""
        lines, last = [], None
        for r in rows:  # rows of a cell are adjacent: commit each cell after its rows
            if last is not None and r.get("cell") != last:
                lines.append(json.dumps({_COMMIT: last}))
            lines.append(json.dumps(r, default=_json_default))
            last = r.get("cell")
        if last is not None:
            lines.append(json.dumps({_COMMIT: last}))
        _replace(self.parts / "cells.jsonl", "".join(ln + "\n" for ln in lines))
        self._untidy = False

    def write_cells(self) -> None:
        df = cells_frame(self._rows)
        _replace_parquet(df, self.path / "cells.parquet")
        _replace(self.path / "cells.csv", df.to_csv(index=False))

    def finalize(self) -> None:
        """Write the cells table once more from the committed rows (a resumed run that had
        nothing left to run writes it too, over a damaged copy), and gather the per-cell
        pieces of its cells: event files into ``events.parquet``, the failure scenarios'
        timelines into ``timeline.parquet``."""
        self.write_cells()
        _gather([self.parts / f"events-{slug}.parquet"
                 for slug in sorted({_slug(c) for c in self.done()})],
                self.path / "events.parquet")
        _gather([self.parts / f"timeline-{_slug(r['cell'])}.parquet" for r in self._scenarios],
                self.path / "timeline.parquet")

    # -- reading ------------------------------------------------------------------------
    def cells(self) -> pd.DataFrame:
        p = self.path / "cells.parquet"
        if not p.exists():
            p = self.path / "cells.csv"
        try:
            df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
        except Exception as e:  # noqa: BLE001 - any unreadable file is the user's input
            raise BadInput(f"cannot read {p}: {_why(e)}") from None
        missing = [c for c in ("cell", "backend", "spec", "workload_spec", "kind", "status",
                               "rate_target", "repeat") if c not in df.columns]
        if missing:
            raise BadInput(f"{p} is not a sensorbench cells table (no column "
                           f"{', '.join(missing)})")
        return df

    def scenarios(self) -> pd.DataFrame | None:
        """The failure scenarios' table, None in a folder without one."""
        return self._table("scenarios.parquet")

    def timeline(self) -> pd.DataFrame | None:
        return self._table("timeline.parquet")

    def _table(self, name: str) -> pd.DataFrame | None:
        p = self.path / name
        if not p.exists():
            return None
        try:
            return pd.read_parquet(p)
        except Exception as e:  # noqa: BLE001 - any unreadable file is the user's input
            raise BadInput(f"cannot read {p}: {_why(e)}") from None

    def meta(self) -> dict:
        """meta.json as a dict ({} when there is none); BadInput when it is unreadable."""
        p = self.path / "meta.json"
        if not p.exists():
            return {}
        try:
            meta = json.loads(p.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise BadInput(f"cannot read {p}: {_why(e)}") from None
        if not isinstance(meta, dict):
            raise BadInput(f"cannot read {p}: a JSON object was expected, found "
                           f"{type(meta).__name__}")
        for key, typ in _META_TYPES.items():
            if key in meta and not isinstance(meta[key], typ):
                raise BadInput(f"cannot read {p}: {key!r} should be a {typ.__name__}, found "
                               f"{type(meta[key]).__name__}")
        return meta


_COMMIT = "_committed_cell"
# The parts of meta.json that readers rely on, and what each must be.
_META_TYPES = {"run_id": str, "machine": dict, "warnings": list, "plan": dict, "plans": list,
               "rules": dict, "backends": dict, "backend_stats": dict, "merged_from": list,
               "resumed_at": list}
_ROW_KEYS = ("cell", "backend", "spec", "workload", "workload_spec", "kind", "status",
             "rate_target")


def _why(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a kill leaves the old file or the new)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _replace_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` atomically."""
    tmp = path.with_name(path.name + ".tmp")
    df.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _gather(parts: list[Path], dest: Path) -> None:
    """The Parquet pieces that exist, concatenated into ``dest`` (atomically)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(p) for p in parts if p.exists()]
    if tables:
        tmp = dest.with_name(dest.name + ".tmp")
        pq.write_table(pa.concat_tables(tables, promote_options="default"), tmp)
        os.replace(tmp, dest)


def _read_lines(path: Path) -> list[dict]:
    """The JSON objects of a JSON-lines file (a line cut off by a kill is left out)."""
    out = []
    for ln in path.read_text(errors="replace").splitlines():
        try:
            obj = json.loads(ln)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def _read_committed(path: Path) -> tuple[list[dict], bool]:
    """Rows of cells whose commit line was written (a cell cut off mid-write is left out
    and runs again). A folder written before commit lines existed has none: all its rows
    count. And whether anything follows the last commit line (all of a file without one)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror}") from None
    parsed: list[dict] = []
    untidy = False
    for ln in lines:
        if not ln.strip():
            continue
        untidy = True
        try:
            obj = json.loads(ln)
        except ValueError:
            continue  # a line cut off by a kill: its cell has no commit and is redone
        if isinstance(obj, dict):
            parsed.append(obj)
            untidy = _COMMIT not in obj
    committed = {o[_COMMIT] for o in parsed if _COMMIT in o}
    rows = [o for o in parsed if _COMMIT not in o
            and all(isinstance(o.get(k), str) for k in _ROW_KEYS)]
    if not committed:
        return rows, untidy
    return [r for r in rows if r["cell"] in committed], untidy


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    return str(o)


def cells_frame(rows: list[dict]) -> pd.DataFrame:
    """The cells table of ``rows``: every stored column, in the schema's order and type
    (missing ones empty); other declared columns only where a row has them (``merge``'s,
    the estimates an older runner stored); columns the schema does not know follow (a
    newer version's). Built column by column and once (it is rewritten after every cell)."""
    return typed_frame(rows, STORED, DTYPES)


def events_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The per-event latencies in the order and types of their schema."""
    return conform(df, EVENT_NAMES, EVENT_DTYPES)


def timeline_frame(df: pd.DataFrame) -> pd.DataFrame:
    return conform(df, TIMELINE_NAMES, TIMELINE_DTYPES)


def conform(df: pd.DataFrame, names: tuple[str, ...], dtypes: dict[str, str]) -> pd.DataFrame:
    """``df``'s declared columns in the declared order and types, then those the schema
    does not know (a newer version's). A frame built elsewhere (an event file of millions
    of rows): columns are cast only when their type differs."""
    order = [c for c in dict.fromkeys((*names, *dtypes)) if c in df.columns]
    out = df[order + [c for c in df.columns if c not in dtypes]]
    cast = {c: dtypes[c] for c in order if str(out[c].dtype) != dtypes[c]}
    return (out.astype(cast) if cast else out).reset_index(drop=True)


def scenarios_frame(rows: list[dict]) -> pd.DataFrame:
    return typed_frame(rows, SCENARIO_NAMES, SCENARIO_DTYPES)


def typed_frame(rows: list[dict], names: tuple[str, ...], dtypes: dict[str, str]
                ) -> pd.DataFrame:
    extra = list(dict.fromkeys(k for r in rows for k in r if k not in dtypes))
    cols = {}
    for c in (*names, *(k for k in dtypes if k not in names), *extra):
        values = [r.get(c) for r in rows]
        dtype = dtypes.get(c)
        if c not in names and all(v is None for v in values):
            continue   # an optional column (merge's host) that no row has
        if dtype in ("Int64", "float64"):
            cols[c] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype(dtype)
        elif dtype is not None:
            cols[c] = pd.Series(values, dtype=object).astype(dtype)
        else:
            cols[c] = pd.Series(values)
    return pd.DataFrame(cols, index=pd.RangeIndex(len(rows)))


def write_folder(out: Path, cells: pd.DataFrame, events: pd.DataFrame | None,
                 scenarios: pd.DataFrame | None, timeline: pd.DataFrame | None,
                 meta: dict) -> Path:
    """A whole results folder at once, each table in its schema's order and types: written
    into a temporary folder next to ``out``, then renamed to it, so that a write cut off
    leaves no half folder (``out``, when it exists, must be an empty folder)."""
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        df = cells_frame(records(cells))
        df.to_parquet(tmp / "cells.parquet", index=False)
        df.to_csv(tmp / "cells.csv", index=False)
        if events is not None:
            events_frame(events).to_parquet(tmp / "events.parquet", index=False)
        if scenarios is not None:
            sc = scenarios_frame(records(scenarios))
            sc.to_parquet(tmp / "scenarios.parquet", index=False)
            sc.to_csv(tmp / "scenarios.csv", index=False)
        if timeline is not None:
            timeline_frame(timeline).to_parquet(tmp / "timeline.parquet", index=False)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
        if out.is_dir():
            out.rmdir()   # empty (checked by the caller): the rename takes its place
        os.rename(tmp, out)
    except OSError as e:
        raise BadInput(f"cannot write to {out}: {e.strerror or e}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def records(df: pd.DataFrame) -> list[dict]:
    """A frame's rows as dicts of plain values, missing ones None (as a run's rows are)."""
    cols = {c: df[c].astype(object).where(df[c].notna(), None).tolist() for c in df.columns}
    return [dict(zip(cols, values)) for values in zip(*cols.values())]
