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

**Partial keys.** A backend whose events carry only part of a kind's key declares it
(``Backend.partial_keys``, ``bench.core.partialkey.PartialKey``): audit's connect names
the calling pid and the server port, not the client port; its "opened for write" names the
path a later write goes to. Such a kind is matched by order within its partial key, every
other kind as above. Within each group (one partial key), events in the order they were
seen each take the earliest operation not yet matched that the key's window admits:
issued at most ``after_ms`` before the event was seen and at most ``before_ms`` after it.
Operations passed over (older than the window for an event, so for every later one too)
are drops. An as-of join would give a late event the group's latest operation, which
belongs to a later event; keeping the order does not. What a partial key cannot tell
apart it cannot count exactly, and the window is the trade: a dropped operation inside the
window of the next event takes that event (the drop still counts, on a later operation,
and the matches after it are late by an inter-operation gap), which a narrower window
avoids; but a report later than the window passes over its own operation (a drop) and
takes a later one, so the window must lie above the backend's delivery latency. An event
left over in a group whose window holds only matched operations is a duplicate; one whose
window holds none, after the group's first operation, is a stale report of ours
(unmatched); one seen before the group's first operation could be admitted is foreign. A
key whose event may come before its operation (``before_ms``) reports what enabled it:
those matches are not timed (``timed``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.analysis.strhash import hash_strings
from bench.core.kinds import PATH_KEYED, Kind
from bench.core.partialkey import PartialKey

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
# _BY_PATH[kind]: whether a kind is keyed by its path (a lookup, several times faster than
# np.isin over a million rows); a value no kind has is clipped to 0 or to the last entry,
# both False
_BY_PATH = np.zeros(max(int(k) for k in Kind) + 2, bool)
_BY_PATH[[int(k) for k in PATH_KEYED]] = True


@dataclass
class Correlation:
    """Index pairs and per-kind counts; metrics are computed from it."""

    truth_idx: np.ndarray      # ledger row of each match
    event_idx: np.ndarray      # event of each match
    duplicate: np.ndarray      # bool per event: its key was expected, but already matched
    # bool per event: no match, but carries the run marker (or, under a partial key, the
    # key of our operations with none of them in its window)
    unmatched_marked: np.ndarray
    # bool per match: its t_seen - t_issue is the event's latency (False: a partial key
    # whose event reports what enabled the operation); None: every match is timed
    timed: np.ndarray | None = None
    # the key each kind was matched on, where it was not the full key (PartialKey.label)
    match_key: dict[int, str] = field(default_factory=dict)

    def timed_matches(self) -> np.ndarray:
        return (np.ones(len(self.truth_idx), bool) if self.timed is None
                else self.timed)


def _keys(kind: np.ndarray, key: np.ndarray, path: np.ndarray) -> np.ndarray:
    """One uint64 per row combining kind with its key (path hash for file kinds)."""
    kind = kind.astype(np.int64, copy=False)
    k = key.astype(np.int64, copy=False).view(np.uint64).copy()
    by_path = _BY_PATH[np.clip(kind, 0, len(_BY_PATH) - 1)]
    if by_path.any():
        # None or NaN hashes to 0: a file event without a path can match nothing
        k[by_path] = hash_strings(path[by_path])[0]
    # unsigned array arithmetic wraps, silently (numpy checks no overflow of integer arrays)
    k ^= kind.astype(np.uint64) * _GOLDEN
    k *= np.uint64(0xBF58476D1CE4E5B9)
    k ^= k >> np.uint64(31)
    return k


def _has_marker(path: np.ndarray, marker: str) -> np.ndarray:
    if len(path) == 0 or not marker:
        return np.zeros(len(path), bool)
    s = pd.Series(path, dtype=object)
    return s.str.contains(marker, regex=False, na=False).to_numpy(dtype=bool)


def correlate(truth: dict[str, np.ndarray], events: dict[str, np.ndarray],
              marker: str = "", partial: dict[Kind, PartialKey] | None = None,
              workload_pid: int | None = None) -> Correlation:
    """Match ``events`` to ``truth``: on the full key, except the kinds ``partial`` names
    (a backend's ``partial_keys``), matched by order within their partial key.
    ``workload_pid``: the pid that issued the workload's operations (the ledger's summary),
    for a partial key that includes the pid."""
    partial = {int(k): v for k, v in (partial or {}).items()}
    if not partial:
        return _full_key(truth, events, marker)
    t_part = np.isin(truth["kind"], list(partial))
    e_part = np.isin(events["kind"], list(partial))
    t_full, e_full = np.flatnonzero(~t_part), np.flatnonzero(~e_part)
    full = _full_key(_rows(truth, t_full), _rows(events, e_full), marker)
    n_e = len(events["kind"])
    truth_idx, event_idx, timed = [t_full[full.truth_idx]], [e_full[full.event_idx]], \
        [np.ones(len(full.truth_idx), bool)]
    duplicate = np.zeros(n_e, bool)
    unmatched = np.zeros(n_e, bool)
    duplicate[e_full] = full.duplicate
    unmatched[e_full] = full.unmatched_marked
    for kind, pk in partial.items():
        ti = np.flatnonzero(truth["kind"] == kind)
        ei = np.flatnonzero(events["kind"] == kind)
        m_t, m_e, dup, stale, stray = _ordered(
            _group(pk, _rows(truth, ti), workload_pid), truth["t_issue"][ti],
            _group(pk, _rows(events, ei)), events["t_seen"][ei], pk)
        truth_idx.append(ti[m_t])
        event_idx.append(ei[m_e])
        timed.append(np.full(len(m_t), pk.timed))
        duplicate[ei[dup]] = True
        unmatched[ei[stale]] = True
        strays = ei[stray]
        unmatched[strays] = _has_marker(events["path"][strays], marker)
    return Correlation(np.concatenate(truth_idx), np.concatenate(event_idx), duplicate,
                       unmatched, np.concatenate(timed),
                       {k: pk.label for k, pk in partial.items()})


def _rows(cols: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {c: v[idx] for c, v in cols.items()}


def _group(pk: PartialKey, cols: dict[str, np.ndarray], pid: int | None = None) -> np.ndarray:
    """One uint64 per row naming its group under the partial key: operations and events
    of one group share it. Events carry their pid; operations do not (the ledger has no
    pid column): theirs is ``pid``, the workload's."""
    kind = cols["kind"]
    if pk.by == "path":
        return _keys(kind, np.zeros(len(kind), np.int64), cols["path"])
    # "pid+server_port": an operation's key is its port pair (server port in the low 16
    # bits); an event's key is the server port alone
    if "pid" in cols:
        pids = cols["pid"]
    elif pid is None:
        raise ValueError(f"partial key {pk.name!r} needs the workload's pid")
    else:
        pids = np.full(len(kind), pid, np.int64)
    return _keys(kind, (pids.astype(np.int64) << 16) | (cols["key"] & 0xFFFF), cols["path"])


def _ordered(t_grp: np.ndarray, t_issue: np.ndarray, e_grp: np.ndarray, t_seen: np.ndarray,
             pk: PartialKey):
    """The ordered assignment within each group (the module's rule). Returns the matched
    (op, event) positions, and per event whether it is a duplicate, a stale report of ours
    or of a group we never used (stray)."""
    n_t, n_e = len(t_grp), len(e_grp)
    after = None if pk.after_ms is None else int(pk.after_ms * 1e6)
    before = int(pk.before_ms * 1e6)
    ops = np.lexsort((np.arange(n_t), t_issue, t_grp))
    og, ot = t_grp[ops], t_issue.astype(np.int64)[ops].tolist()
    op_at = ops.tolist()
    evs = np.lexsort((np.arange(n_e), t_seen, e_grp))
    lo = np.searchsorted(og, e_grp[evs], "left").tolist()
    hi = np.searchsorted(og, e_grp[evs], "right").tolist()
    seen = t_seen.astype(np.int64)[evs].tolist()
    m_t, m_e = [], []
    dup = np.zeros(n_e, bool)
    stale = np.zeros(n_e, bool)
    stray = np.zeros(n_e, bool)
    # no group yet: the first event of each group sets j, the next operation it may take
    group_lo = -1
    for pos, e in enumerate(evs.tolist()):
        g_lo, g_hi, ts = lo[pos], hi[pos], seen[pos]
        if g_lo == g_hi:
            stray[e] = True   # a group none of our operations has
            continue
        if g_lo != group_lo:  # the first event of its group
            group_lo, j = g_lo, g_lo
        oldest = None if after is None else ts - after
        if oldest is not None:
            while j < g_hi and ot[j] < oldest:
                j += 1        # too old for this event and every later one: a drop
        if j < g_hi and ot[j] <= ts + before:
            m_t.append(op_at[j])
            m_e.append(e)
            j += 1
        elif j > g_lo and (oldest is None or ot[j - 1] >= oldest):
            dup[e] = True     # its window holds only operations already matched
        elif j > g_lo:
            stale[e] = True   # ours, but every operation it could be is out of its window
        # else: seen before the group's first operation could be admitted: foreign
    return (np.array(m_t, np.int64), np.array(m_e, np.int64), dup, stale, stray)


def _merged_order(ck: np.ndarray, t: np.ndarray, n_t: int) -> tuple[np.ndarray, np.ndarray]:
    """The order of operations (the first ``n_t`` rows) and events by key, then time,
    operations before events at the same instant, ties in row order; and each row's key as
    a dense rank. Two passes: the rows by key (``_by_key``), then, within each key, by a
    64-bit word (rank, time since the first row, operation or event) where the times fit
    beside the ranks (spans of half an hour and more at a million keys), else by a
    three-key lexsort, which is some times slower."""
    by_key, sk = _by_key(ck)
    rank_by_key = np.cumsum(np.r_[False, sk[1:] != sk[:-1]]) if len(sk) else \
        np.zeros(0, np.int64)
    # arrays of a million rows are megabytes each: each goes as soon as it has served,
    # and the word is built in place (memory the process takes anew costs page faults)
    del sk
    rank = np.empty(len(ck), np.int64)
    rank[by_key] = rank_by_key
    is_event = by_key >= n_t
    t = t[by_key]
    n_keys = int(rank_by_key[-1]) + 1 if len(ck) else 0
    t0 = int(t.min()) if len(t) else 0
    span = int(t.max()) - t0 + 1 if len(t) else 1
    time_bits = 62 - max(1, n_keys.bit_length())
    if span.bit_length() > time_bits:
        return by_key[np.lexsort((is_event, t, rank_by_key))], rank
    word = rank_by_key
    word <<= time_bits + 1
    t -= t0
    t <<= 1
    word |= t
    del t
    word |= is_event
    return by_key[_stable_argsort(word)], rank


def _by_key(ck: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows in order of their key, rows of one key in row order (a stable argsort),
    and the keys in that order. In two stable passes, together some times faster than
    one sort of the keys: numpy sorts 16-bit words stably by radix, in linear time, so
    the first pass orders the rows by the top 16 bits of their key (the keys are mixed:
    those bits spread the rows evenly); the second then finds the keys in short runs,
    each in the order of its top bits, which timsort (numpy's stable sort of 64-bit
    words) orders in about linear time."""
    top = np.argsort(_top16(ck), kind="stable")
    keys = ck[top]
    within = np.argsort(keys, kind="stable")
    return top[within], keys[within]


def _top16(ck: np.ndarray) -> np.ndarray:
    """The top 16 bits of each key: a view of its 16-bit word (no copy)."""
    quarters = ck.view(np.uint16).reshape(-1, 4)
    return quarters[:, 3 if sys.byteorder == "little" else 0]


def _stable_argsort(word: np.ndarray) -> np.ndarray:
    """The stable argsort of ``word``, which comes grouped by key and in row order within
    each key: mostly in order already, which timsort (numpy's stable sort of 64-bit
    words) orders in about linear time."""
    return np.argsort(word, kind="stable")


def _full_key(truth: dict[str, np.ndarray], events: dict[str, np.ndarray],
              marker: str) -> Correlation:
    n_t, n_e = len(truth["kind"]), len(events["kind"])
    t_issue = truth["t_issue"].astype(np.int64, copy=False)
    t_seen = events["t_seen"].astype(np.int64, copy=False)

    # One sequence of operations and events, sorted by key, then time, operations before
    # events at the same instant. Carrying the position of the last operation forward
    # gives each event the latest operation issued at or before it; it is of the event's
    # key only if that operation has the same key. The events a candidate gets follow it
    # in the order they were seen: the first is its match, the rest duplicates.
    order, rank = _merged_order(
        np.concatenate([_keys(truth["kind"], truth["key"], truth["path"]),
                        _keys(events["kind"], events["key"], events["path"])]),
        np.concatenate([t_issue, t_seen]), n_t)
    is_op = order < n_t
    last = np.arange(len(order))
    last[~is_op] = -1
    np.maximum.accumulate(last, out=last)
    ev_pos = np.flatnonzero(~is_op)
    ev_idx = order[ev_pos] - n_t                    # event index at those positions
    cand_pos = last[ev_pos]
    ok = cand_pos >= 0
    rank_at = rank[order]                           # each position's key
    ok[ok] = rank_at[cand_pos[ok]] == rank_at[ev_pos[ok]]
    cand_pos, ev_idx = cand_pos[ok], ev_idx[ok]
    first = np.r_[True, cand_pos[1:] != cand_pos[:-1]] if len(cand_pos) else \
        np.empty(0, bool)
    # matches in operation order, as every consumer of a Correlation has had them: an
    # operation has one match at most, so each takes its own slot, no sort needed
    slot = np.full(n_t, -1, np.int64)
    slot[order[cand_pos[first]]] = ev_idx[first]
    truth_idx = np.flatnonzero(slot >= 0)
    event_idx = slot[truth_idx]
    duplicate = np.zeros(n_e, bool)
    duplicate[ev_idx[~first]] = True

    # A key we never used is a stray; known keys seen too early are foreign.
    has_op = np.bincount(rank[:n_t], minlength=int(rank.max()) + 1 if len(rank) else 0) > 0
    stray = ~has_op[rank[n_t:]]
    unmatched_marked = np.zeros(n_e, bool)
    if stray.any():
        unmatched_marked[stray] = _has_marker(events["path"][stray], marker)
    return Correlation(truth_idx, event_idx, duplicate, unmatched_marked)
