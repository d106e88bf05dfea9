"""Results folders built from numbers chosen by a test, through the real store: the rows a
run would write, with values whose consequences (pooled drops, percentiles, verdicts, the
max sustainable rate) the test can work out by hand. No sensor runs, no root needed.

``cell_rows`` makes the rows of one cell (one per kind), ``latency_events`` the matching
``events.parquet`` rows, ``write_folder`` a folder ``RunData.load`` reads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.results.store import ResultsDir

MACHINE = {"hostname": "h", "cpu_model": "Test CPU", "cpu_logical": 2, "kernel": "6.0-test"}


def cell_rows(spec: str, kinds: dict[str, dict] | tuple[str, ...] = ("proc_exec",), *,
              workload: str = "process", rate: str = "1000", repeat: int = 0,
              mode: str = "user", block: str | None = None, baseline_cell: str | None = None,
              **cell_fields) -> list[dict]:
    """The rows of one cell of ``spec`` (backend: the spec's name; ``baseline`` for a
    no-sensor cell), one per kind. ``kinds`` maps a kind to its own fields (``expected``,
    ``matched``, latencies, ``status``...), or lists kinds that get the defaults (1000
    expected, all matched); ``cell_fields`` go on every row of the cell."""
    backend = spec.split(":")[0]
    base = backend == "baseline"
    cell = f"{spec}|{workload}|{rate}|{repeat}"
    if isinstance(kinds, (tuple, list)):
        kinds = {k: {} for k in kinds}
    rows = []
    for kind, own in kinds.items():
        row = {
            "cell": cell, "backend": backend, "spec": spec, "mode": "none" if base else mode,
            "mechanism": "none" if base else "test", "workload": workload.split(":")[0],
            "workload_spec": workload, "kind": kind, "rate_target": rate, "repeat": repeat,
            "status": "ok", "reason": "", "expected": 1000,
            "matched": None if base else 1000, "rate_achieved": _num(rate),
            "duration_s": 1.0, "block": block, "baseline_cell": baseline_cell,
        }
        row.update(cell_fields)
        row.update(own)
        if not base and row.get("drop_rate") is None and row["status"] == "ok" \
                and row["matched"] is not None and row["expected"]:
            row["drop_rate"] = (row["expected"] - row["matched"]) / row["expected"]
        rows.append(row)
    return rows


def latency_events(spec: str, kind: str, latencies_us, *, workload: str = "process",
                   rate: str = "1000", repeat: int = 0, host: str | None = None) -> pd.DataFrame:
    """``events.parquet`` rows of one cell and kind with the given latencies (µs)."""
    lat = np.asarray(latencies_us, dtype=float)
    df = pd.DataFrame({
        "cell": f"{spec}|{workload}|{rate}|{repeat}", "spec": spec,
        "workload_spec": workload, "rate_target": rate, "repeat": repeat, "kind": kind,
        "latency_ns": (lat * 1e3).astype(np.int64),
    })
    if host is not None:
        df["host"] = host
    return df


def write_folder(path: Path, rows: list[dict], events: list[pd.DataFrame] | None = None,
                 meta: dict | None = None, op_times: dict[str, np.ndarray] | None = None
                 ) -> Path:
    """A results folder holding ``rows`` (and events, meta.json, per-cell operation times),
    written by ``ResultsDir`` as a run writes it."""
    res = ResultsDir(path)
    res.replace_rows(rows)
    res.write_meta(meta if meta is not None else {"machine": dict(MACHINE)})
    for cell, times in (op_times or {}).items():
        res.add_cell([], None, np.asarray(times), cell)
    if events:
        pd.concat(events, ignore_index=True).to_parquet(path / "events.parquet", index=False)
    return path


def _num(rate: str) -> float:
    try:
        return float(rate)
    except ValueError:
        return float("nan")
