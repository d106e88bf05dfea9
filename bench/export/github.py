"""``github-benchmark.json``: a list of ``{name, unit, value, range?, extra?}`` for
github-action-benchmark with ``tool: customSmallerIsBetter``.

One entry per backend x workload x rate (repetitions combined) and metric, smaller is
better for all of them:

- ``latency p99`` (µs, all kinds' raw latencies pooled),
- ``drop rate`` (%, pooled over the kinds the backend supports),
- ``CPU per event`` (µs of sensor CPU per matched event),
- ``time per op vs baseline`` (%, 100 = as fast as without a sensor). The slowdown itself
  can be negative or zero, and the action alerts on the ratio current/previous, which is
  meaningless across zero; 100 + slowdown keeps the ratio honest. The slowdown and its
  95 % CI are in ``range`` and ``extra``.

Metrics that are not measured (NaN) are left out rather than written as 0.
"""

from __future__ import annotations

import json
import math

from bench.results.rundata import RunData


def entries(run: RunData) -> list[dict]:
    out = []
    for _, r in run.cells.iterrows():
        if r["status"] != "ok":
            continue
        base = f"{r['series']} {r['workload_spec']} @{r['rate_target']}"
        extra = f"mode={r['mode']} repeats={r['repeats']}"

        # base and extra bound as defaults: each iteration's add sees its own row's
        def add(metric, unit, value, range_=None, more="", base=base, extra=extra):
            if value is None or not math.isfinite(value):
                return
            e = {"name": f"{base}: {metric}", "unit": unit, "value": round(float(value), 4),
                 "extra": extra + more}
            if range_:
                e["range"] = range_
            out.append(e)

        add("latency p99", "us", r["latency_p99_us"])
        add("drop rate", "%", r["drop_rate"] * 100 if not math.isnan(r["drop_rate"]) else None)
        add("CPU per event", "us", r["cpu_us_per_event"])
        sd = r["slowdown_pct"]
        if not math.isnan(sd):
            lo, hi = r["slowdown_ci_low_pct"], r["slowdown_ci_high_pct"]
            add("time per op vs baseline", "%", 100 + sd,
                None if math.isnan(lo) or math.isnan(hi) else
                f"95% CI {100 + lo:.1f}..{100 + hi:.1f}",
                f" slowdown={sd:+.2f}%")
    return out


def export(run: RunData) -> str:
    return json.dumps(entries(run), indent=2) + "\n"
