"""What a fault did, from arrays: the timeline of a failure scenario and its summary.

A scenario cell is a normal cell whose sensor was crashed, stopped or fed a bad update at
``t_fault``. From the ground truth, the events and their correlation this module derives:

- the timeline, in bins of ``BIN_MS``: operations intended and issued, events expected
  and observed (binned by when their operation was issued, so a hole is a loss), events
  seen (binned by when the sensor had them, so a stall shows as a pile-up after it), the
  workload's schedule lag, and the sensor's state;
- the summary: the blind window read off the data (the stretch of issue time whose events
  were never seen), what was lost in and around the fault, how long the workload was held
  up, how long the sensor took to catch up, and the outcome class.

The blind window is taken from what the sensor saw, not from the harness's clock, so that
the harness's own kill-to-ready time can check it (they must agree; see the tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.analysis.correlate import Correlation

BIN_MS = 10
# A workload held up by more than this past its usual schedule lag counts as an impact on
# the host (a syscall made to wait for the sensor): above a loaded 2-core VM's scheduling
# hiccups (the process workload's fork saw 111 ms once, with nothing done to the sensor),
# far below audit's backpressure (0.7 to 2 s in a 2 s stall).
STALL_LIMIT_MS = 200.0
# Caught up again: a live operation reported within this many times the usual p99
# latency (+ 1 ms, for sensors whose usual latency is a few µs).
CAUGHT_UP = 2.0


@dataclass
class Fault:
    """When the fault happened and when the sensor was collecting again (monotonic ns);
    ``states`` is the sensor's state from each time on: (t_ns, state)."""

    t_fault: int
    t_back: int | None           # None: it never came back within the cell
    states: list[tuple[int, str]]
    crashed: bool = False        # the sensor process died (crash, or a crashing update)


def _expected(truth: dict, supported: frozenset) -> np.ndarray:
    return np.isin(truth["kind"], np.fromiter(supported, dtype=np.int64))


def summarize(truth: dict, events: dict, corr: Correlation, supported: frozenset,
              fault: Fault, t_end: int) -> dict:
    """The scenario row's measured columns (times in ms)."""
    t_issue, t_int, t_done = truth["t_issue"], truth["t_intended"], truth["t_done"]
    exp = _expected(truth, supported)
    seen = np.zeros(len(t_issue), bool)
    seen[corr.truth_idx] = True
    back = fault.t_back if fault.t_back is not None else t_end
    in_window = (t_issue >= fault.t_fault) & (t_issue < back)
    lost = exp & ~seen
    row = {
        "ops_in_window": int(len(np.unique(truth["op"][in_window]))),
        "events_expected": int(exp.sum()),
        "events_lost": int(lost.sum()),
        "events_lost_in_window": int((lost & in_window).sum()),
        "down_ms": (back - fault.t_fault) / 1e6 if fault.crashed else 0.0,
        "blind_ms": blind_ms(t_issue[exp], seen[exp], fault.t_fault),
    }
    # The workload's own fate: how far behind its schedule it got during the fault, over
    # the worst it was before (a loaded machine's usual hiccup).
    lag = (t_done - t_int) / 1e6
    before = lag[t_int < fault.t_fault]
    during = lag[(t_int >= fault.t_fault) & (t_int < max(back, fault.t_fault + 1))]
    usual = float(np.max(before)) if len(before) else 0.0
    row["workload_stall_ms"] = max(0.0, float(np.max(during)) - usual) if len(during) else 0.0
    # Catching up: from the sensor being back to its first report of an operation issued
    # after that with a latency as usual again (a backlog delays the live ones behind it).
    # Untimed matches (a partial key whose event comes before its operation) time nothing.
    timed = corr.timed_matches()
    ti, ei = corr.truth_idx[timed], corr.event_idx[timed]
    t_seen = events["t_seen"][ei]
    lat_ms = (t_seen - t_issue[ti]) / 1e6
    win = (t_issue[ti] >= fault.t_fault) & (t_issue[ti] < back)
    before_fault = lat_ms[t_issue[ti] < fault.t_fault]
    usual_ms = float(np.percentile(before_fault, 99)) if len(before_fault) else 1.0
    row["recovered_ms"] = catch_up_ms(t_issue[ti], t_seen, lat_ms, fault.t_back,
                                      CAUGHT_UP * usual_ms + 1.0)
    row["window_latency_max_ms"] = float(lat_ms[win].max()) if win.any() else float("nan")
    row["latency_p50_before_ms"] = float(np.median(before_fault)) if len(before_fault) \
        else float("nan")
    return row


def catch_up_ms(t_issue: np.ndarray, t_seen: np.ndarray, lat_ms: np.ndarray,
                t_back: int | None, usual_ms: float) -> float:
    """From ``t_back`` to the first report, of an operation issued after it, no later than
    ``usual_ms``; NaN when the sensor never came back or never caught up."""
    if t_back is None:
        return float("nan")
    live = (t_issue >= t_back) & (lat_ms <= usual_ms)
    if not live.any():
        return float("nan")
    return max(0.0, (int(t_seen[live].min()) - t_back) / 1e6)


def blind_ms(t_issue: np.ndarray, seen: np.ndarray, t_fault: int) -> float:
    """The longest stretch of issue time, reaching past ``t_fault``, whose expected events
    the sensor never saw: from the last seen operation before the hole to the first seen
    after it. 0 when nothing issued from the fault on was lost."""
    order = np.argsort(t_issue, kind="stable")
    t, s = t_issue[order], seen[order]
    after = t >= t_fault
    if not (after & ~s).any():
        return 0.0
    seen_t = t[s]
    if not len(seen_t):
        return float("nan")
    best = 0.0
    # holes: consecutive seen operations with unseen ones between them
    idx_seen = np.flatnonzero(s)
    lost_after = np.flatnonzero(after & ~s)
    for i in np.unique(np.searchsorted(idx_seen, lost_after)):
        lo = t[idx_seen[i - 1]] if i > 0 else t[0]
        hi = t[idx_seen[i]] if i < len(idx_seen) else t[-1]
        best = max(best, (hi - lo) / 1e6)
    return best


def outcome(row: dict, case: str) -> str:
    """The outcome class of one scenario row: the host first (a sensor that holds up the
    workload is the worst failure), then a crashed sensor, then loss."""
    if row.get("workload_failed"):
        return "host-impact"
    # A flood loads the machine itself: the workload waits on it, sensor or not, so its
    # stall is the attack's, shown but not judged against the sensor.
    if row.get("workload_stall_ms", 0.0) > STALL_LIMIT_MS and row.get("technique") != "flood":
        return "host-impact"
    if row.get("crashed"):
        return "sensor-crashed"
    if row.get("events_lost_in_window", 0) > 0 or row.get("events_lost", 0) > 0:
        return "degraded"
    # a bad update that never took effect: refused by the sensor, or stopped by a canary
    if row.get("update") == "refused" or str(row.get("canary") or "").startswith("halted"):
        return "refused"
    return "no-loss"


def timeline(truth: dict, events: dict, corr: Correlation, supported: frozenset,
             fault: Fault, t0: int, t_end: int) -> dict[str, np.ndarray]:
    """Per ``BIN_MS`` from ``t0``: ops intended and issued, expected / observed events (by
    the issue time of their operation), events seen (by when the sensor had them), the
    workload's schedule lag (ms, max over the bin's operations) and the sensor's state."""
    step = BIN_MS * 1_000_000
    n = max(1, int(np.ceil((t_end - t0) / step)))

    def count(t: np.ndarray) -> np.ndarray:
        b = ((t - t0) // step).astype(np.int64)
        ok = (b >= 0) & (b < n)
        return np.bincount(b[ok], minlength=n)[:n]

    first = np.unique(truth["op"], return_index=True)[1]  # one row per operation
    exp = _expected(truth, supported)
    ti, ei = corr.truth_idx, corr.event_idx
    lag = np.zeros(n)
    b = ((truth["t_issue"][first] - t0) // step).astype(np.int64)
    ok = (b >= 0) & (b < n)
    np.maximum.at(lag, b[ok], (truth["t_issue"][first][ok] - truth["t_intended"][first][ok]) / 1e6)
    starts = t0 + np.arange(n, dtype=np.int64) * step
    st_t = np.array([t for t, _ in fault.states], dtype=np.int64)
    st_name = np.array([s for _, s in fault.states] or ["ready"], dtype=object)
    which = np.searchsorted(st_t, starts, side="right") - 1
    state = np.where(which >= 0, st_name[np.clip(which, 0, None)], "starting")
    return {
        "t_ms": np.arange(n, dtype=np.int64) * BIN_MS,
        "intended": count(truth["t_intended"][first]).astype(np.int64),
        "issued": count(truth["t_issue"][first]).astype(np.int64),
        "expected": count(truth["t_issue"][exp]).astype(np.int64),
        "observed": count(truth["t_issue"][ti][exp[ti]]).astype(np.int64),
        "seen": count(events["t_seen"][ei][exp[ti]]).astype(np.int64),
        "lag_ms": lag,
        "state": state.astype(str),
    }
