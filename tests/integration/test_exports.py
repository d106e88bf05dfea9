"""CI exports: pytest-benchmark's own tool reads ours; the github file has the action's shape."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers.report_runs import copy, results


@pytest.fixture(scope="module")
def sweep():
    return results("sweep")   # `run` wrote the exports at its end


def test_github_benchmark_shape(sweep):
    data = json.loads((sweep / "github-benchmark.json").read_text())
    assert isinstance(data, list) and data
    for e in data:
        assert {"name", "unit", "value"} <= set(e)
        assert isinstance(e["name"], str) and isinstance(e["unit"], str)
        assert isinstance(e["value"], (int, float)) and math.isfinite(e["value"])
    names = [e["name"] for e in data]
    assert len(names) == len(set(names)), "names must be unique to be tracked over time"
    # customSmallerIsBetter needs all four metrics for a backend that sees everything.
    syn = [n for n in names if n.startswith("synthetic network @300")]
    for metric in ("latency p99", "drop rate", "CPU per event", "time per op vs baseline"):
        assert any(n.endswith(metric) for n in syn), metric
    # Values are the run's numbers: the synthetic backend drops nothing.
    drop = next(e for e in data if e["name"] == "synthetic network @300: drop rate")
    assert drop["value"] == 0 and drop["unit"] == "%"


def test_pytest_benchmark_stats_are_the_latencies_within_the_histograms_precision(sweep):
    """The stats are pytest-benchmark's, of every matched event's latency as the cells'
    histograms hold it: each within the histogram's precision of the raw latency."""
    from bench.analysis.latency_hist import PRECISION

    doc = json.loads((sweep / "pytest-benchmark.json").read_text())
    assert {"machine_info", "commit_info", "benchmarks", "datetime", "version"} <= set(doc)
    b = next(x for x in doc["benchmarks"] if x["extra_info"]["backend"] == "synthetic")
    ev = pd.read_parquet(sweep / "events.parquet")
    ex = b["extra_info"]
    lat = ev[(ev["spec"] == ex["spec"]) & (ev["rate_target"] == ex["rate_target"])
             & (ev["kind"].astype(str) == ex["kind"])]["latency_ns"].to_numpy() / 1e9
    st = b["stats"]
    assert st["rounds"] == len(lat) == ex["matched"]
    assert st["median"] == pytest.approx(np.median(lat), rel=PRECISION)
    assert st["min"] == pytest.approx(lat.min(), rel=PRECISION)
    assert st["max"] == pytest.approx(lat.max(), rel=PRECISION)
    assert ex["drop_rate"] == 0 and ex["latency_p99_us"] > 0


def test_pytest_benchmark_compare_reads_it(tmp_path):
    """pytest-benchmark's own `compare` on the exports of two different runs: the same
    backend with and without 20 ms of injected delay. What it reads back must be our
    numbers, so the slowed run's median latency is 20 ms higher. The exports are written as
    ``sensorbench report`` writes them (``export.write_all``), without its charts."""
    from bench import export
    from bench.results.rundata import RunData

    exe = Path(sys.executable).with_name("pytest-benchmark")
    if not exe.exists():
        pytest.skip("pytest-benchmark CLI not installed")
    files = []
    for i, name in enumerate(("same_a", "slowed")):
        d = copy(name, tmp_path / name)
        export.write_all(RunData.load(d))
        files.append(tmp_path / f"000{i + 1}_{name}.json")
        shutil.copy(d / "pytest-benchmark.json", files[-1])
    r = subprocess.run([str(exe), "compare", *map(str, files), "--columns=median,rounds",
                        "--group-by=name", "--csv", str(tmp_path / "cmp")],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(next(tmp_path.glob("cmp*.csv")))
    med = {}
    for _, row in table.iterrows():
        m = re.search(r"latency\[(synthetic[^-]*)-network-500-(\w+)\]", row["name"])
        if m:
            med[(m.group(1), m.group(2))] = float(row["median"])
    kinds = {k for _, k in med}
    assert kinds >= {"net_connect", "net_accept", "net_send"}, med
    for kind in kinds:
        base, slow = med[("synthetic", kind)], med[("synthetic:delay_us=20000", kind)]
        assert 0.019 < slow - base < 0.025, (kind, base, slow)  # the CSV is in seconds
