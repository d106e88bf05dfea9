"""A sensor's events against the counted truth: the per-kind rows of a cell whose workload
keeps no ledger (an application recipe).

A real program's operations have no keys recorded in advance, so its events cannot be
joined one by one. They are the cell's when they came from it:

- their process (``pid``) ran in the cell's cgroup (the counter's set of processes);
- or, for a process event, the process it is about (``key``: the child forked, the
  program exec'ed or the process that exited) did;
- or, for a file event, its path carries the cell's marker (every recipe works in the
  cell's directory, whose name is the marker): a sensor that names no process (inotify)
  is matched by where, not by who.

Per kind, ``matched`` is the number of the cell's events up to the count, ``duplicates``
those beyond it, and the drop rate ``1 - matched / counted``. What this cannot
catch: a duplicate and a drop of the same kind cancel, and a sensor that reports one kind
more often than it happens (audit's file_write is an open for writing, written or not)
has its excess counted as ``duplicates``, which can hide a drop of that kind.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.analysis.metrics import percentiles_us
from bench.core.kinds import FILE_KINDS, PROC_KINDS, Kind

MATCH_KEY = "cell"   # match_key of a counted row: matched to the cell, not to an operation


def cell_mask(events: dict, pids, marker: str, runner_pid: int | None = None) -> np.ndarray:
    """Which events are the cell's (see the module docstring). ``runner_pid`` is the
    process that ran the recipe: it exec'ed before joining the cgroup and exits after
    leaving it, so its own exec and exit are not the cell's (the forks of its steps are)."""
    kind = np.asarray(events["kind"])
    if len(kind) == 0:
        return np.zeros(0, bool)
    pids = np.asarray(sorted(pids), dtype=np.int64)
    key = np.asarray(events["key"], dtype=np.int64)
    mine = np.isin(np.asarray(events["pid"], dtype=np.int64), pids)
    proc = np.isin(kind, [int(k) for k in PROC_KINDS])
    mine |= proc & np.isin(key, pids)
    if runner_pid is not None:
        own = np.isin(kind, [int(Kind.proc_exec), int(Kind.proc_exit)]) & (key == runner_pid)
        mine &= ~own
    files = np.isin(kind, [int(k) for k in FILE_KINDS]) & ~mine
    if files.any() and marker:
        paths = pd.Series(np.asarray(events["path"], dtype=object)[files])
        mine[np.flatnonzero(files)] = paths.str.contains(marker, regex=False,
                                                         na=False).to_numpy()
    return mine


def expected_kinds(counts: dict[str, int], declared) -> list[Kind]:
    """The kinds a counted cell has rows for: those its workload declares and any other it
    counted (a user's command may do anything), in Kind order."""
    return sorted({Kind(k) for k in declared} | {Kind[n] for n, c in counts.items() if c})


def rows(counts: dict[str, int], declared, events: dict | None, mask: np.ndarray | None,
         supported: frozenset) -> list[dict]:
    """One row per expected kind: ``expected`` is the counted number; with events (a sensor
    cell) also ``matched``, ``drop_rate`` and ``duplicates`` (events beyond the count)."""
    out = []
    for kind in expected_kinds(counts, declared):
        expected = int(counts.get(kind.name, 0))
        row = {"kind": kind.name, "expected": expected}
        if events is None:
            row.update(status="ok", reason="")
            out.append(row)
            continue
        row.update(percentiles_us(np.empty(0)))
        if kind not in supported:
            row.update(status="unsupported", reason="backend does not report this kind",
                       matched=0, drop_rate=math.nan, duplicates=0, unmatched=0,
                       match_key="")
            out.append(row)
            continue
        seen = int((mask & (np.asarray(events["kind"]) == int(kind))).sum())
        # matched up to the count, the rest are duplicates: the drop rate stays the
        # synthetic workloads' (expected - matched) / expected, pooled the same way
        matched = min(seen, expected)
        row.update(status="ok", reason="", match_key=MATCH_KEY, matched=matched,
                   drop_rate=(expected - matched) / expected if expected else math.nan,
                   duplicates=seen - matched, unmatched=0)
        out.append(row)
    return out
