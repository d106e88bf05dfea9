"""``pytest-benchmark.json``: results in pytest-benchmark's JSON schema (version 5).

Each backend x workload x rate x kind becomes one "benchmark" whose timed quantity is the
**event latency** (seconds, as pytest-benchmark stores times): ``stats`` are computed from
the raw per-event latencies of every repeat (``events.parquet``), so ``pytest-benchmark
compare`` shows min / median / mean / max latency and their changes. Drops, CPU, slowdown
and the percentiles sensorbench reports go into ``extra_info``. A kind with no matched
event has no latency sample and is left out (its drop rate is in the summary entry's
``extra_info``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import platform
import subprocess

import numpy as np

from bench import __version__
from bench.analysis.metrics import LATENCY_COLUMNS
from bench.results.rundata import RunData

try:
    from importlib.metadata import version as _v

    PB_VERSION = _v("pytest-benchmark")
except Exception:   # not installed: the schema version we follow
    PB_VERSION = "5.1.0"


def stats(lat_s: np.ndarray) -> dict:
    """pytest-benchmark's ``stats`` block, computed the way it computes them."""
    x = np.sort(lat_s.astype(np.float64))
    n = len(x)
    mean = float(x.mean())
    sd = float(x.std(ddof=1)) if n > 1 else 0.0
    q1, median, q3 = (float(v) for v in np.percentile(x, [25, 50, 75]))
    iqr = q3 - q1
    lo_fence, hi_fence = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    inside = x[(x >= lo_fence) & (x <= hi_fence)]
    iqr_out = int(n - len(inside))
    sd_out = int(((x < mean - sd) | (x > mean + sd)).sum())
    return {
        "min": float(x[0]), "max": float(x[-1]), "mean": mean, "stddev": sd, "rounds": n,
        "median": median, "iqr": iqr, "q1": q1, "q3": q3, "iqr_outliers": iqr_out,
        "stddev_outliers": sd_out, "outliers": f"{sd_out};{iqr_out}",
        "ld15iqr": float(inside[0]) if len(inside) else float(x[0]),
        "hd15iqr": float(inside[-1]) if len(inside) else float(x[-1]),
        "ops": 1 / mean if mean > 0 else 0.0, "total": float(x.sum()), "iterations": 1,
    }


def _clean(v):
    if v is None or v is __import__("pandas").NA:
        return None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else float(v)
    return v


def machine_info(meta: dict) -> dict:
    m = meta.get("machine") or {}
    return {
        "node": m.get("hostname", platform.node()), "processor": m.get("cpu_model", ""),
        "machine": m.get("machine", platform.machine()),
        "python_implementation": platform.python_implementation(),
        "python_version": m.get("python", platform.python_version()),
        "release": m.get("kernel", platform.release()), "system": m.get("os", platform.system()),
        "cpu": {"brand_raw": m.get("cpu_model", ""), "count": m.get("cpu_logical")},
        "sensorbench": {"version": __version__, "warnings": meta.get("warnings", [])},
    }


def commit_info(path) -> dict:
    """The git commit of the code that produced the run, when the folder sits in a checkout."""
    def git(*a):
        r = subprocess.run(["git", "-C", str(path), *a], capture_output=True, text=True, timeout=5)
        return r.stdout.strip() if r.returncode == 0 else None

    try:
        cid = git("rev-parse", "HEAD")
    except (OSError, subprocess.TimeoutExpired):
        cid = None
    if not cid:
        return {"id": "unversioned", "time": None, "author_time": None, "dirty": False,
                "project": "sensorbench", "branch": "(unknown)"}
    return {"id": cid, "time": git("log", "-1", "--format=%cI"),
            "author_time": git("log", "-1", "--format=%aI"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
            "project": "sensorbench", "branch": git("rev-parse", "--abbrev-ref", "HEAD")}


def benchmarks(run: RunData) -> list[dict]:
    out = []
    cells = run.cells.set_index(["series", "workload_spec", "rate_target"])
    for _, k in run.kinds.iterrows():
        if k["status"] != "ok":
            continue
        lat = run.latencies_us(k["series"], k["workload_spec"], k["rate_target"], k["kind"])
        if not len(lat):
            continue
        c = cells.loc[(k["series"], k["workload_spec"], k["rate_target"])]
        param = f"{k['workload_spec']}-{k['rate_target']}-{k['kind']}"
        extra = {
            "backend": k["backend"], "spec": k["spec"], "mode": k["mode"], "host": k["host"],
            "workload": k["workload_spec"], "rate_target": k["rate_target"], "kind": k["kind"],
            "repeats": k["repeats"], "expected": k["expected"], "matched": k["matched"],
            "drop_rate": k["drop_rate"], "duplicates": k["duplicates"],
            "unmatched": k["unmatched"], "self_reported_lost": k["self_reported_lost"],
            **{c: k[c] for c in LATENCY_COLUMNS},
            "sensor_cpu_pct": c["sensor_cpu_pct"], "cpu_us_per_event": c["cpu_us_per_event"],
            "kernel_ns_per_event": c["kernel_ns_per_event"], "slowdown_pct": c["slowdown_pct"],
            "slowdown_ci_low_pct": c["slowdown_ci_low_pct"],
            "slowdown_ci_high_pct": c["slowdown_ci_high_pct"],
        }
        out.append({
            "group": f"{k['workload_spec']} @{k['rate_target']}",
            "name": f"latency[{k['series']}-{param}]",
            "fullname": f"sensorbench::latency[{k['series']}-{param}]",
            "params": {"spec": k["series"], "workload": k["workload_spec"],
                       "rate": k["rate_target"], "kind": k["kind"]},
            "param": f"{k['series']}-{param}",
            "extra_info": {key: _clean(v) for key, v in extra.items()},
            "options": {"disable_gc": False, "timer": "CLOCK_MONOTONIC (t_seen - t_issue)",
                        "min_rounds": 1, "max_time": None, "min_time": None,
                        "precision": None, "confidence": None, "warmup": False},
            "stats": stats(lat / 1e6),
        })
    return out


def document(run: RunData) -> dict:
    started = run.meta.get("started")
    try:
        when = dt.datetime.strptime(started, "%Y-%m-%dT%H:%M:%S%z").isoformat()
    except (TypeError, ValueError):
        when = dt.datetime.now(dt.UTC).isoformat()
    return {"machine_info": machine_info(run.meta), "commit_info": commit_info(run.path),
            "benchmarks": benchmarks(run), "datetime": when, "version": PB_VERSION}


def export(run: RunData) -> str:
    return json.dumps(document(run), indent=2, default=str) + "\n"
