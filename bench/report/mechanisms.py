"""Each mechanism's reference sensor next to the real tool of the same mechanism.

The headline compares kernel-mode with user-mode *mechanisms*; that is fair only when each
mechanism's reference sensor is about as good as a production consumer of it, or the
comparison measures our code, not the mechanism. This table sets every spec of a reference
backend the run holds (ebpf and ebpf:wakeup=event, inotify and inotify:parser=python, ...)
next to the real tool that consumes the same facility (``Backend.same_mechanism``), at the
headline rate: the sensor's own CPU per event (the tool's alone, never our parsing of its
output), marginal (the mean over the repeats, with the range their intervals lie in) and
all in (the median over the repeats with their range), and the latency and drops that
came with it.
"""

from __future__ import annotations

import math

import pandas as pd

from bench.core import fmt
from bench.report.figure import headline_rate
from bench.report import columns
from bench.report.present import Cell, Num, backend
from bench.results.rundata import RunData

HEAD = ["mechanism", "sensor", "mode", "workload", "marginal µs/event [range]",
        "CPU µs/event, all in [range]", "× the tool", "idle CPU %", "p50 µs", "p99 µs",
        "drop %"]


def tool_of(run: RunData, present: set[str]) -> dict[str, str]:
    """Reference backend -> the real tool of its mechanism, among the backends ``present``,
    as the run recorded it (``same_mechanism`` in each backend's record of ``meta.json``):
    a stored folder pairs the same whatever code is installed."""
    records = run.backend_records()
    out = {}
    for name in sorted(present):
        rec = records.get(name)
        if rec is not None and "same_mechanism" in rec:
            ref = rec["same_mechanism"]
        else:
            # A folder made before the records held the pairing: the installed registry's.
            ref = _registered_pairing(name)
        if ref:
            out[ref] = name
    return out


def _registered_pairing(name: str) -> str | None:
    """``same_mechanism`` of a registered backend; None when it is not registered or its
    code cannot be loaded here (another platform's, a broken plugin): the report pairs it
    with nothing rather than failing."""
    from bench import backends

    try:
        return getattr(backends.get(name), "same_mechanism", None)
    except Exception:  # noqa: BLE001 - the report goes on without this pair
        return None


def _spread(v: pd.Series) -> tuple[float, str]:
    """The median of the repeats and 'median [min–max]'."""
    v = v.dropna().astype(float)
    if v.empty:
        return math.nan, fmt.DASH
    med = float(v.median())
    return med, fmt.interval(med, v.min(), v.max(), 1) if len(v) > 1 else fmt.number(med, 1)


def rows(run: RunData) -> list[list[Cell]]:
    """Table rows (HEAD), empty when the run holds no reference backend with its tool."""
    rate = headline_rate(run)
    pc = run.per_cell
    pc = pc[(pc["rate_target"] == rate) & (pc["status"] == "ok")]
    cells = run.cells.set_index(["series", "workload_spec", "rate_target"])
    present = set(pc["backend"])
    out: list[list[str]] = []
    for ref, tool in sorted(tool_of(run, present).items()):
        if ref not in present or tool not in present:
            continue
        mine = pc[pc["backend"].isin([ref, tool])]
        for wl in sorted(set(mine.loc[mine["backend"] == ref, "workload_spec"])
                         & set(mine.loc[mine["backend"] == tool, "workload_spec"])):
            g = mine[mine["workload_spec"] == wl]
            series = sorted(set(g["series"]), key=lambda s: (g.loc[g["series"] == s,
                                                                  "backend"].iloc[0] == tool,
                                                           s != ref, s))
            tool_all = _spread(g.loc[g["backend"] == tool, "cpu_us_per_event"])[0]
            for s in series:
                gs = g[g["series"] == s]
                all_in, all_in_s = _spread(gs["cpu_us_per_event"])
                c = cells.loc[(s, wl, rate)] if (s, wl, rate) in cells.index else {}
                marginal = columns.marginal(c)
                ratio = (Num(all_in / tool_all, 2) if gs["backend"].iloc[0] != tool
                         and tool_all and not (math.isnan(tool_all) or math.isnan(all_in))
                         else "")
                out.append([ref, backend(s), gs["mode"].iloc[0], wl, marginal, all_in_s, ratio,
                            Num(gs["sensor_idle_cpu_pct"].median(), 2),
                            Num(c.get("latency_p50_us"), 0), Num(c.get("latency_p99_us"), 0),
                            Num(c.get("drop_rate"), 2, scale=100)])
    return out


INTRO = ("Each mechanism's reference sensor (ours, in every variant the run holds) next to "
         "the real tool that consumes the same kernel facility, at {rate} ops/s: the "
         "sensor's own CPU per matched event (a tool's own, never our parsing of its "
         "output), *marginal* (above its idle cost: the mean over the repeats and the range "
         "their 95 % intervals lie in, *not resolved* where that holds zero) and *all in*, "
         "median over the repeats [min–max]; *× the tool*: all-in CPU per event over the "
         "tool's. Latency and drops pooled over the repeats.")
