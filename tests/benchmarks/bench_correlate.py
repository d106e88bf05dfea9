"""Kept benchmark: correlating 1,000,000 events against 1,000,000 operations (< 5 s target).

Half file events (path keyed, hashed) and half process events (pid keyed), shuffled, with
a few duplicates and drops, as a real cell would have.
"""

import numpy as np
import pytest

from bench.analysis.correlate import correlate
from bench.core.kinds import Kind

N = 1_000_000
MARKER = "sbbench001"


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    i = np.arange(N)
    is_file = i % 2 == 0
    kind = np.where(is_file, Kind.file_write, Kind.proc_exec).astype(np.int64)
    paths = np.array([f"/var/tmp/sensorbench/{MARKER}/{MARKER}-{k:07d}.new" if f else None
                      for k, f in zip(i, is_file)], dtype=object)
    truth = {"op": i, "kind": kind, "key": np.where(is_file, 0, 100_000 + i), "path": paths,
             "t_intended": i * 500, "t_issue": i * 500 + 10, "t_done": i * 500 + 20}
    keep = rng.random(N) > 0.001  # 0.1 % dropped
    order = rng.permutation(np.flatnonzero(keep))
    dup = order[: N // 1000]      # 0.1 % reported twice
    idx = np.concatenate([order, dup])
    n = len(idx)
    events = {"kind": kind[idx].astype(np.int16), "key": truth["key"][idx],
              "path": paths[idx], "pid": np.zeros(n, np.int64),
              "t_seen": truth["t_issue"][idx] + rng.integers(1_000, 100_000, n),
              "t_kernel": np.full(n, -1, np.int64)}
    return truth, events, int(keep.sum())


def test_correlate_million(benchmark, data):
    truth, events, kept = data
    c = benchmark.pedantic(correlate, args=(truth, events, MARKER), rounds=3, iterations=1)
    assert len(c.truth_idx) == kept
    assert c.duplicate.sum() == N // 1000
    benchmark.extra_info["events"] = len(events["kind"])
    assert benchmark.stats.stats.max < 5.0
