"""Match a backend's events to the ground truth on (kind, key), vectorized.

File events are keyed by path (hashed to 64 bits), process events by pid, network events
by the port pair. Keys may recur within a cell (a pid reused, a port picked again), so an
event matches the *latest* operation of its key issued before it was seen (an as-of join
per key): an event cannot report what had not happened yet. The earliest event assigned
to an operation is its match; later ones assigned to the same operation are duplicates,
and an operation no event was assigned to is a drop. An event seen before the first
operation of its key cannot be ours (the pid or port belonged to another process earlier):
it is set aside as foreign, counted against nobody. Events whose key matches nothing but
which carry the run marker (in a path or argv) are unmatched: false or mangled reports of
our own activity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.core.kinds import PATH_KEYED

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


def _has_marker(path: np.ndarray, marker: str) -> np.ndarray:
    if len(path) == 0 or not marker:
        return np.zeros(len(path), bool)
    s = pd.Series(path, dtype=object)
    return s.str.contains(marker, regex=False, na=False).to_numpy(dtype=bool)


def correlate(truth: dict[str, np.ndarray], events: dict[str, np.ndarray],
              marker: str = "") -> Correlation:
    t_ck = _keys(truth["kind"], truth["key"], truth["path"])
    e_ck = _keys(events["kind"], events["key"], events["path"])
    n_t, n_e = len(t_ck), len(e_ck)
    t_issue = truth["t_issue"].astype(np.int64, copy=False)
    t_seen = events["t_seen"].astype(np.int64, copy=False)

    # One sequence of operations and events, sorted by key, then time, operations before
    # events at the same instant. Carrying the position of the last operation forward
    # gives each event the latest operation issued at or before it; it is of the event's
    # key only if that operation has the same key.
    ck = np.concatenate([t_ck, e_ck])
    t = np.concatenate([t_issue, t_seen])
    is_event = np.r_[np.zeros(n_t, np.int8), np.ones(n_e, np.int8)]
    order = np.lexsort((is_event, t, ck))
    last = np.maximum.accumulate(np.where(order < n_t, np.arange(len(order)), -1)) \
        if len(order) else np.empty(0, np.int64)
    ev_pos = np.flatnonzero(order >= n_t)
    ev_idx = order[ev_pos] - n_t                    # event index at those positions
    cand_pos = last[ev_pos] if len(ev_pos) else np.empty(0, np.int64)
    has_cand = cand_pos >= 0
    same_key = np.zeros(len(ev_pos), bool)
    same_key[has_cand] = ck[order[cand_pos[has_cand]]] == e_ck[ev_idx[has_cand]]
    cand = np.full(n_e, -1, np.int64)
    cand[ev_idx[same_key]] = order[cand_pos[same_key]]

    # Is the event's key expected at all (foreign if seen before its first operation)?
    sorted_ck = np.sort(t_ck)
    known = np.zeros(n_e, bool)
    if n_t and n_e:
        p = np.searchsorted(sorted_ck, e_ck)
        known = (p < n_t) & (sorted_ck[np.minimum(p, n_t - 1)] == e_ck)

    # Per operation, the earliest event assigned to it matches; the rest are duplicates.
    assigned = np.flatnonzero(cand >= 0)
    by_op = assigned[np.lexsort((t_seen[assigned], cand[assigned]))]
    first = np.r_[True, cand[by_op][1:] != cand[by_op][:-1]] if len(by_op) else \
        np.empty(0, bool)
    event_idx = by_op[first]
    truth_idx = cand[event_idx]
    duplicate = np.zeros(n_e, bool)
    duplicate[by_op[~first]] = True
    stray = ~known  # a key we never used; known keys seen too early are foreign
    unmatched_marked = np.zeros(n_e, bool)
    if stray.any():
        unmatched_marked[stray] = _has_marker(events["path"][stray], marker)
    return Correlation(truth_idx, event_idx, duplicate, unmatched_marked)
