"""What a run could resolve, read from its own controls.

A run that includes ``null_sensor`` (the A/A control) says, per workload and rate, how wide
an interval a sensor that costs nothing gets: the smallest overhead (time per operation)
and the smallest total cost of sensing (machine CPU per operation) this machine could tell
from zero at the run's settings. A run that includes ``injected_cost`` says what the harness
recovered of a cost that was known. Both come from the same paired-block estimate as every
other row; nothing is assumed.
"""

from __future__ import annotations

import math

import pandas as pd

from bench.results.rundata import RunData

NULL = "null_sensor"
INJECT = "injected_cost"

INTRO = ("From the run's own controls: `null_sensor` costs nothing, so the half-width of its "
         "95 % interval is the smallest overhead (and total cost) this machine could tell "
         "from zero at these settings; `injected_cost` adds a known spin in the kernel on "
         "each operation (plus the tracepoint's own fixed cost, which nothing counts). "
         "Values in µs per operation.")


def _half(r, lo: str, hi: str, scale: float = 1.0) -> float:
    a, b = r.get(lo, math.nan), r.get(hi, math.nan)
    return (b - a) / 2 / scale if not (math.isnan(a) or math.isnan(b)) else math.nan


def table(run: RunData) -> pd.DataFrame:
    """One row per control series x workload x rate: its overhead and machine CPU estimate
    (µs per operation) with the half-width of their 95 % intervals, blocks used, and for an
    injected cost what it spun per operation (``injected_ns_per_run``, meta.json)."""
    c = run.cells
    c = c[c["backend"].isin([NULL, INJECT])]
    stats = run.meta.get("backend_stats") or {}
    rows = []
    for _, r in c.iterrows():
        spun = [v.get("injected_ns_per_run") for k, v in stats.items()
                if isinstance(v, dict) and k.startswith(f"{r['spec']}|{r['workload_spec']}|"
                                                        f"{r['rate_target']}|")]
        spun = [float(x) for x in spun if isinstance(x, (int, float))]
        rows.append({
            "series": r["series"], "workload_spec": r["workload_spec"],
            "rate_target": r["rate_target"],
            "spun_us": sum(spun) / len(spun) / 1e3 if spun else (0.0 if r["backend"] == NULL
                                                                  else math.nan),
            "overhead_us": r.get("overhead_ns_per_op", math.nan) / 1e3,
            "overhead_half_us": _half(r, "overhead_ci_low_ns", "overhead_ci_high_ns", 1e3),
            "machine_us": r.get("machine_cpu_us_per_op", math.nan),
            "machine_half_us": _half(r, "machine_cpu_ci_low_us", "machine_cpu_ci_high_us"),
            "blocks": r.get("blocks_used", math.nan),
        })
    return pd.DataFrame(rows)
