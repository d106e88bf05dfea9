"""Match a backend's events to the ground truth on (kind, key), vectorized.

File events are keyed by path (hashed to 64 bits), process events by pid, network events
by the port pair. Within one (kind, key) the n-th event in time order matches the n-th
expected row in time order, which handles keys that legitimately recur (a pid or port
reused within a cell); events beyond what was expected for a key are duplicates. An event
seen before the first operation with its key was issued cannot be ours (a pid or port that
another process held earlier, on a machine whose pid space wraps within a cell): it is set
aside as foreign rather than counted against the backend. Events whose key matches nothing
but which carry the run marker (in a path or argv) are counted as unmatched: false or
mangled reports of our own activity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.kinds import PATH_KEYED

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_PATH_KEYED = np.array(sorted(int(k) for k in PATH_KEYED), dtype=np.int64)


@dataclass
class Correlation:
    """Index pairs and per-kind counts; metrics are computed from it."""

    truth_idx: np.ndarray      # ledger row of each match
    event_idx: np.ndarray      # event of each match
    duplicate: np.ndarray      # bool per event: its key was expected, but already matched
    unmatched_marked: np.ndarray  # bool per event: no match, but carries the run marker


def _keys(kind: np.ndarray, key: np.ndarray, path: np.ndarray) -> np.ndarray:
    """One uint64 per row combining kind with its key (path hash for file kinds)."""
    kind = kind.astype(np.int64, copy=False)
    k = key.astype(np.int64, copy=False).view(np.uint64).copy()
    by_path = np.isin(kind, _PATH_KEYED)
    if by_path.any():
        paths = path[by_path]
        hashed = pd.util.hash_array(paths.astype(object), categorize=False)
        hashed[pd.isna(paths)] = 0  # a file event without a path can match nothing
        k[by_path] = hashed
    with np.errstate(over="ignore"):
        mixed = (k ^ (kind.astype(np.uint64) * _GOLDEN)) * np.uint64(0xBF58476D1CE4E5B9)
    return mixed ^ (mixed >> np.uint64(31))


def _ranked(ck: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort by (ck, t); return order, sorted ck, and each row's rank within its ck."""
    order = np.lexsort((t, ck))
    sck = ck[order]
    n = len(sck)
    if n == 0:
        return order, sck, np.empty(0, np.int64)
    starts = np.r_[True, sck[1:] != sck[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    return order, sck, np.arange(n) - group_start


def _has_marker(path: np.ndarray, marker: str) -> np.ndarray:
    if len(path) == 0 or not marker:
        return np.zeros(len(path), bool)
    s = pd.Series(path, dtype=object)
    return s.str.contains(marker, regex=False, na=False).to_numpy(dtype=bool)


def correlate(truth: dict[str, np.ndarray], events: dict[str, np.ndarray],
              marker: str = "") -> Correlation:
    t_ck = _keys(truth["kind"], truth["key"], truth["path"])
    e_ck = _keys(events["kind"], events["key"], events["path"])
    t_order, t_sck, t_rank = _ranked(t_ck, truth["t_issue"])

    # Causality: the earliest issue time per key (ledger sorted by key, then time).
    causal = np.ones(len(e_ck), bool)
    if len(t_sck) and len(e_ck):
        first = np.searchsorted(t_sck, e_ck, side="left")
        fc = np.minimum(first, len(t_sck) - 1)
        known_key = (first < len(t_sck)) & (t_sck[fc] == e_ck)
        earliest = truth["t_issue"][t_order][fc]
        causal = ~known_key | (events["t_seen"] >= earliest)
    # Non-causal events get a key no ledger row has, so they neither match nor rank.
    e_ck = np.where(causal, e_ck, np.uint64(0))
    e_order, e_sck, e_rank = _ranked(e_ck, events["t_seen"])

    # Join on (ck, rank): fold the rank into the key, then one sorted search.
    with np.errstate(over="ignore"):
        t_j = t_sck ^ (t_rank.astype(np.uint64) * _GOLDEN)
        e_j = e_sck ^ (e_rank.astype(np.uint64) * _GOLDEN)
    j_order = np.argsort(t_j, kind="stable")
    t_js = t_j[j_order]
    pos = np.searchsorted(t_js, e_j)
    pos_c = np.minimum(pos, max(len(t_js) - 1, 0))
    hit = (pos < len(t_js)) & (t_js[pos_c] == e_j) if len(t_js) else np.zeros(len(e_j), bool)

    truth_idx = t_order[j_order[pos_c[hit]]]
    event_idx = e_order[hit]

    # Not matched: a duplicate if its (kind, key) was expected at all, else unmatched.
    known = np.zeros(len(e_sck), bool)
    if len(t_sck):
        p2 = np.searchsorted(t_sck, e_sck)
        p2c = np.minimum(p2, len(t_sck) - 1)
        known = (p2 < len(t_sck)) & (t_sck[p2c] == e_sck)
    duplicate = np.zeros(len(e_ck), bool)
    duplicate[e_order[~hit & known]] = True
    stray = np.zeros(len(e_ck), bool)
    stray[e_order[~hit & ~known]] = True
    stray &= causal  # an earlier holder of our pid or port is not a false report of ours
    unmatched_marked = np.zeros(len(e_ck), bool)
    if stray.any():
        unmatched_marked[stray] = _has_marker(events["path"][stray], marker)
    return Correlation(truth_idx, event_idx, duplicate, unmatched_marked)
