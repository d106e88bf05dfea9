"""``sensorbench merge DIR... --out OUT``: results folders from several machines in one.

The merged folder is an ordinary results folder (``cells.parquet``, ``cells.csv``,
``events.parquet``, ``meta.json``; and the failure scenarios' ``scenarios`` and
``timeline`` tables, when an input has them), so ``report`` and ``compare`` read it and so do DuckDB,
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
from bench.results.store import ResultsDir, scenarios_frame

MACHINE_COLUMNS = ("kernel", "cpu_model", "cpu_logical")


def _hosts(metas: list[dict], folders: list[Path]) -> list[str]:
    """A name per input: its hostname, suffixed #2, #3... when another machine shares it.
    Runs of one machine (same hostname and machine key) share one name."""
    names, seen = [], {}
    for meta, f in zip(metas, folders):
        m = meta.get("machine") or {}
        h = m.get("hostname") or f.name
        ident = (h, m.get("machine_key")) if m.get("machine_key") else (h, str(f))
        machines = seen.setdefault(h, [])
        if ident not in machines:
            machines.append(ident)
        n = machines.index(ident) + 1
        names.append(h if n == 1 else f"{h}#{n}")
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
    if out.exists() and not out.is_dir():
        raise BadInput(f"--out {out} is not a folder")
    if out.exists() and any(out.iterdir()):
        raise BadInput(f"--out {out} exists and is not empty")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInput(f"cannot write to {out}: {e.strerror}") from None

    frames, events, scenarios, timelines = [], [], [], []
    for res, meta, host in zip(inputs, metas, hosts):
        for table, into in ((res.scenarios(), scenarios), (res.timeline(), timelines)):
            if table is not None:
                if "host" not in table.columns:
                    table["host"] = host
                into.append(table)
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
    if scenarios:
        sc = scenarios_frame(pd.concat(scenarios, ignore_index=True).to_dict("records"))
        sc.to_parquet(out / "scenarios.parquet", index=False)
        sc.to_csv(out / "scenarios.csv", index=False)
    if timelines:
        pd.concat(timelines, ignore_index=True).to_parquet(out / "timeline.parquet",
                                                           index=False)
    merged = {
        "merged_from": [{"host": h, "path": str(r.path), "meta": m}
                        for h, r, m in zip(hosts, inputs, metas)],
        "warnings": [],
        "machine": {"hostname": "+".join(dict.fromkeys(hosts))},
    }
    tmp = out / "meta.json.tmp"
    tmp.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    os.replace(tmp, out / "meta.json")
    return out
