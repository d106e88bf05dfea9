"""The results folder: one model, written cell by cell, read back by report and compare.

Layout: ``cells.parquet`` and ``cells.csv`` (one row per cell x kind), ``events.parquet``
(one row per matched event), ``meta.json``, ``logs/``. Per-cell pieces live in ``.parts/``
until the run finishes, so a run killed halfway keeps every finished cell and ``--resume``
continues from there.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import BadInput

# The columns DESIGN.md promises, in this order; more follow.
CELL_COLUMNS = [
    "backend", "spec", "mode", "mechanism", "workload", "kind", "rate_target",
    "rate_achieved", "repeat", "status", "reason", "expected", "matched", "drop_rate",
    "duplicates", "unmatched", "self_reported_lost", "latency_p50_us", "latency_p90_us",
    "latency_p99_us", "latency_p999_us", "latency_max_us", "sensor_cpu_pct",
    "cpu_us_per_event", "kernel_ns_per_event", "slowdown_pct", "slowdown_ci_low_pct",
    "slowdown_ci_high_pct", "sensor_rss_mb", "saturation",
]
EXTRA_COLUMNS = [
    "latency_intended_p50_us", "latency_intended_p99_us", "delivery_p50_us",
    "delivery_p99_us", "counter_gap", "events_total", "sensor_cpu_s", "helper_cpu_s", "parse_errors", "workload_cpu_pct", "ops",
    "workload_errors", "duration_s", "drained", "cgroup", "marker", "cell", "workload_spec",
    "arrivals",
]


def _slug(cell_id: str) -> str:
    import hashlib

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
        jl = self.parts / "cells.jsonl"
        if create and jl.exists():
            self._rows = [json.loads(ln) for ln in jl.read_text().splitlines() if ln.strip()]

    # -- writing ------------------------------------------------------------------------
    def write_meta(self, meta: dict) -> None:
        path = self.path / "meta.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        if old:
            merged = dict(old)
            for k, v in meta.items():
                # Dicts merge one level deep so a resumed run keeps earlier cells' stats.
                merged[k] = {**old[k], **v} if isinstance(v, dict) and isinstance(old.get(k), dict) else v
            meta = merged
        path.write_text(json.dumps(meta, indent=2, default=str) + "\n")

    def done(self) -> set[str]:
        return {r["cell"] for r in self._rows}

    def add_cell(self, rows: list[dict], events: pd.DataFrame | None,
                 op_times: np.ndarray | None, cell_id: str) -> None:
        slug = _slug(cell_id)
        if events is not None and len(events):
            events.to_parquet(self.parts / f"events-{slug}.parquet", index=False)
        if op_times is not None:
            np.save(self.parts / f"optimes-{slug}.npy", op_times)
        with open(self.parts / "cells.jsonl", "a") as f:
            for r in rows:
                f.write(json.dumps(r, default=_json_default) + "\n")
        self._rows.extend(rows)
        self.write_cells()

    def op_times(self, cell_id: str) -> np.ndarray | None:
        p = self.parts / f"optimes-{_slug(cell_id)}.npy"
        return np.load(p) if p.exists() else None

    def rows(self) -> list[dict]:
        return list(self._rows)

    def replace_rows(self, rows: list[dict]) -> None:
        self._rows = rows
        with open(self.parts / "cells.jsonl", "w") as f:
            for r in rows:
                f.write(json.dumps(r, default=_json_default) + "\n")
        self.write_cells()

    def write_cells(self) -> None:
        df = cells_frame(self._rows)
        tmp = self.path / "cells.parquet.tmp"
        df.to_parquet(tmp, index=False)
        os.replace(tmp, self.path / "cells.parquet")
        df.to_csv(self.path / "cells.csv", index=False)

    def finalize(self) -> None:
        """Gather per-cell event files into ``events.parquet``."""
        parts = sorted(self.parts.glob("events-*.parquet"))
        if parts:
            import pyarrow.parquet as pq

            tables = [pq.read_table(p) for p in parts]
            import pyarrow as pa

            pq.write_table(pa.concat_tables(tables, promote_options="default"),
                           self.path / "events.parquet")

    # -- reading ------------------------------------------------------------------------
    def cells(self) -> pd.DataFrame:
        if (self.path / "cells.parquet").exists():
            return pd.read_parquet(self.path / "cells.parquet")
        return pd.read_csv(self.path / "cells.csv")

    def meta(self) -> dict:
        p = self.path / "meta.json"
        return json.loads(p.read_text()) if p.exists() else {}


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    return str(o)


def cells_frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for c in CELL_COLUMNS + EXTRA_COLUMNS:
        if c not in df.columns:
            df[c] = np.nan
    rest = [c for c in df.columns if c not in CELL_COLUMNS and c not in EXTRA_COLUMNS]
    df = df[CELL_COLUMNS + EXTRA_COLUMNS + rest]
    for c in ("rate_target", "reason", "status", "spec", "backend", "kind", "mode", "saturation",
              "mechanism", "workload", "workload_spec", "cell", "marker"):
        df[c] = df[c].astype("string")
    for c in ("drained", "cgroup"):
        df[c] = df[c].astype("boolean")
    for c in ("self_reported_lost", "expected", "matched", "duplicates", "unmatched",
              "events_total", "ops", "workload_errors", "repeat"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("Int64")
    return df
