"""The CI benchmark matrix: ``pytest tests/benchmarks/bench_matrix.py --benchmark-only``.

One benchmark per backend x workload (a small matrix that still has a kernel-mode and a
user-mode backend for every workload), each a real ``sensorbench run`` of one cell plus its
no-sensor baseline. What CI gates on is in ``extra_info``: drop rate, latency p50/p99 (from
the raw events), sensor CPU per event and the workload slowdown with its CI. The timed
quantity is the wall time of the whole cell (sensor start, workload, drain, stop), which
catches a sensor that got slow to start or to drain. Backends that cannot run here are
skipped with their reason. ``make test`` skips this file (``--benchmark-skip``).
"""

from __future__ import annotations

import math

import pytest

from bench import backends
from bench.results.rundata import RunData
from tests.helpers import sensorbench

RATE = "1000"
DURATION = "2"
MATRIX = [
    ("synthetic", "file"),          # calibration: what the harness itself costs
    ("ebpf", "file"), ("ebpf", "process"), ("ebpf", "network"),     # kernel mode
    ("fanotify", "file"), ("proc_connector", "process"),            # user mode, OS-fed
    ("psutil", "process"), ("psutil", "network"),                   # user mode, polling
]


@pytest.mark.parametrize("backend,workload", MATRIX, ids=[f"{b}-{w}" for b, w in MATRIX])
def test_matrix(benchmark, tmp_path, backend, workload):
    reason = backends.availability(backend)
    if reason:
        pytest.skip(f"{backend}: {reason}")
    out = tmp_path / "r"

    def cell():
        sensorbench("run", "-b", backend, "-w", workload, "-r", RATE, "-d", DURATION,
                    "--no-report", "--out", str(out), check=True)

    benchmark.pedantic(cell, rounds=1, iterations=1)
    run = RunData.load(out)
    (c,) = [r for _, r in run.cells.iterrows()]
    kinds = run.kinds[run.kinds["status"] == "ok"]
    info = {
        "backend": backend, "mode": c["mode"], "workload": workload, "rate": RATE,
        "status": c["status"], "drop_rate": c["drop_rate"], "drop_rate_worst": c["drop_rate_worst"],
        "latency_p50_us": c["latency_p50_us"], "latency_p99_us": c["latency_p99_us"],
        "cpu_us_per_event": c["cpu_us_per_event"], "sensor_cpu_pct": c["sensor_cpu_pct"],
        "kernel_ns_per_event": c["kernel_ns_per_event"], "slowdown_pct": c["slowdown_pct"],
        "slowdown_ci_low_pct": c["slowdown_ci_low_pct"],
        "slowdown_ci_high_pct": c["slowdown_ci_high_pct"],
        "per_kind": {k["kind"]: {"drop_rate": k["drop_rate"], "p99_us": k["latency_p99_us"]}
                     for _, k in kinds.iterrows()},
        "timed": "wall time of the whole cell (sensor start, workload, drain, stop)",
    }
    # Strict JSON for CI tools (jq, dashboards): no NaN, no numpy scalars.
    benchmark.extra_info.update(_plain(info))
    assert c["status"] == "ok", c["reason"]
    assert len(kinds) > 0


def _plain(v):
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if hasattr(v, "item"):      # numpy / pandas scalar
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return None if v is None or str(v) == "<NA>" else v
