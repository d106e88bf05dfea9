"""``sensorbench merge DIR... --out OUT``: results folders from several machines in one.

The merged folder is an ordinary results folder (``cells.parquet``, ``cells.csv``,
``events.parquet``, ``meta.json``), so ``report`` and ``compare`` read it and so do DuckDB,
Spark or pandas. Every row gains where it came from: ``host`` (the machine's hostname,
suffixed ``#2``, ``#3``... when two inputs share one), ``source`` (the input folder) and the
machine facts that move results (``kernel``, ``cpu_model``, ``cpu_logical``). ``meta.json``
keeps each input's full metadata under ``merged_from``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from bench.core.errors import BadInput
from bench.results.store import ResultsDir

MACHINE_COLUMNS = ("kernel", "cpu_model", "cpu_logical")


def _hosts(metas: list[dict], folders: list[Path]) -> list[str]:
    names, seen = [], {}
    for meta, f in zip(metas, folders):
        h = (meta.get("machine") or {}).get("hostname") or f.name
        seen[h] = seen.get(h, 0) + 1
        names.append(h if seen[h] == 1 else f"{h}#{seen[h]}")
    return names


def merge(folders: list[Path], out: Path) -> Path:
    if len(folders) < 2:
        raise BadInput("merge needs at least two results folders")
    folders = [Path(f) for f in folders]
    for f in folders:
        if not f.is_dir():
            raise BadInput(f"{f} is not a results folder (no such directory)")
        if f.resolve() == out.resolve():
            raise BadInput(f"--out {out} is one of the inputs")
    inputs = [ResultsDir(f, create=False) for f in folders]
    metas = [r.meta() for r in inputs]
    hosts = _hosts(metas, folders)
    if out.exists() and any(out.iterdir()):
        raise BadInput(f"--out {out} exists and is not empty")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(f"cannot write to {out}: {e.strerror}") from None

    frames, events = [], []
    for res, meta, host in zip(inputs, metas, hosts):
        df = res.cells()
        if "host" in df.columns:   # an already merged folder: keep its hosts
            df["host"] = df["host"].astype("string")
        else:
            df["host"] = host
        df["source"] = str(res.path)
        m = meta.get("machine") or {}
        for c in MACHINE_COLUMNS:
            if c not in df.columns:
                df[c] = m.get(c)
        frames.append(df)
        ev = res.path / "events.parquet"
        if ev.exists():
            try:
                e = pd.read_parquet(ev)
            except Exception as err:  # noqa: BLE001 - the user's file
                raise BadInput(f"cannot read {ev}: {type(err).__name__}: {err}") from None
            if "host" not in e.columns:
                e["host"] = host
            events.append(e)
    cells = pd.concat(frames, ignore_index=True)
    for c in ("host", "source", "kernel", "cpu_model"):
        cells[c] = cells[c].astype("string")
    cells.to_parquet(out / "cells.parquet", index=False)
    cells.to_csv(out / "cells.csv", index=False)
    if events:
        pd.concat(events, ignore_index=True).to_parquet(out / "events.parquet", index=False)
    merged = {
        "merged_from": [{"host": h, "path": str(r.path), "meta": m}
                        for h, r, m in zip(hosts, inputs, metas)],
        "warnings": [],
        "machine": {"hostname": "+".join(hosts)},
    }
    tmp = out / "meta.json.tmp"
    tmp.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    os.replace(tmp, out / "meta.json")
    return out
