"""``sensorbench merge DIR... --out OUT``: results folders from several machines in one.

The merged folder is an ordinary results folder (``cells.parquet``, ``cells.csv``,
``events.parquet``, ``meta.json``; and the failure scenarios' ``scenarios`` and
``timeline`` tables, when an input has them), so ``report`` and ``compare`` read it and so do DuckDB,
Spark or pandas. Every row gains where it came from, in the columns the schema declares for
it (``bench.results.schema.MERGED``): ``host`` (the machine's hostname, suffixed ``#2``,
``#3``... when two inputs share one), ``run`` (the input's run id: two runs of one machine
have the same host and the same cell ids, and stay two runs), ``source`` (the input folder)
and the machine facts that move results (``kernel``, ``cpu_model``, ``cpu_logical``).
``meta.json`` keeps each input's full metadata under ``merged_from``. The folder is written
by the store at once (``store.write_folder``: a temporary folder renamed into place).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.core.errors import BadInput
from bench.results.store import ResultsDir, row_runs, run_id, write_folder

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

    frames, events, scenarios, timelines, runs_of = [], [], [], [], []
    for res, meta, host in zip(inputs, metas, hosts):
        df = res.cells()
        merged_input = "source" in df.columns
        if "host" in df.columns:   # an already merged folder: keep its hosts
            df["host"] = df["host"].astype("string")
        else:
            df["host"] = host
        df["run"] = row_runs(df, meta, res.path)
        runs_of.append(set(df["run"].dropna()))
        df["source"] = str(res.path)
        m = meta.get("machine") or {}
        for c in MACHINE_COLUMNS:
            if c not in df.columns:
                df[c] = m.get(c)
        frames.append(df)
        # the other tables: rows of an already merged folder keep their host and run
        run = None if merged_input else run_id(meta, res.path)
        for table, into in ((res.scenarios(), scenarios), (res.timeline(), timelines),
                            (_events(res.path), events)):
            if table is not None:
                if "host" not in table.columns:
                    table["host"] = host
                if "run" not in table.columns and run is not None:
                    table["run"] = run
                into.append(table)
    _refuse_repeated_runs(folders, runs_of)
    cells = pd.concat(frames, ignore_index=True)
    merged = {
        "merged_from": [{"host": h, "path": str(r.path), "runs": sorted(ids), "meta": m}
                        for h, r, m, ids in zip(hosts, inputs, metas, runs_of)],
        "warnings": [],
        "machine": {"hostname": "+".join(dict.fromkeys(hosts))},
    }
    return write_folder(out, cells, _concat(events), _concat(scenarios), _concat(timelines),
                        merged)


def _refuse_repeated_runs(folders: list[Path], runs_of: list[set]) -> None:
    """Two inputs holding one run (a folder and its copy, a merged folder and one of its
    inputs) would count its cells twice."""
    for i, mine in enumerate(runs_of):
        for j in range(i):
            if mine & runs_of[j]:
                raise BadInput(f"{folders[i]} and {folders[j]} hold the same run "
                               f"({sorted(mine & runs_of[j])[0]}): merge each run once")


def _events(folder: Path) -> pd.DataFrame | None:
    ev = folder / "events.parquet"
    if not ev.exists():
        return None
    try:
        return pd.read_parquet(ev)
    except Exception as err:  # noqa: BLE001 - the user's file
        raise BadInput(f"cannot read {ev}: {type(err).__name__}: {err}") from None


def _concat(tables: list[pd.DataFrame]) -> pd.DataFrame | None:
    return pd.concat(tables, ignore_index=True) if tables else None
