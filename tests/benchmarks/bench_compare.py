"""Kept benchmark: does ``compare``'s gate hold on this machine?
``pytest tests/benchmarks/bench_compare.py --benchmark-only`` (about 15 minutes; ``SENSORBENCH_AA_RUNS``
sets the number of comparisons, 20 by default).

- A/A: RUNS + 1 runs of identical code (``synthetic:delay_us=1000`` on the three workloads,
  3 repeats, paired baselines), each compared with the next: at most 1 of the RUNS
  comparisons may exit 1 (a 95 % gate over several metrics and kinds, on a shared VM).
- A known regression: RUNS runs of the same backend made 20 % slower to report
  (``delay_us=1200``), each compared with one of the A/A runs: every comparison exits 1.
  (It moves the p50 by about +18 %, which the default gate judges; the p99, made of the
  machine's own tail, moves about +8 %, inside its noise.)

The counts, and which metric failed an A/A comparison, are in ``extra_info``.
"""

from __future__ import annotations

import json
import os

from tests.helpers import sensorbench

RUNS = int(os.environ.get("SENSORBENCH_AA_RUNS", "20"))
BASE = "synthetic:delay_us=1000"
SLOWER = "synthetic:delay_us=1200"
ARGS = ("-w", "file,process,network", "-r", "1000", "-d", "1", "-n", "3", "--no-report")


def _run(spec: str, out) -> None:
    sensorbench("run", "-b", spec, *ARGS, "--out", str(out), check=True, timeout=900)


def _compare(base, new, js) -> tuple[int, list[str]]:
    r = sensorbench("compare", str(base), str(new), "--json", str(js))
    assert r.returncode in (0, 1), r.stdout + r.stderr
    rows = json.loads(js.read_text())["rows"]
    failed = sorted({f"{x['metric']}:{x['workload']}:{x['kind'] or '-'}" for x in rows
                     if x["verdict"] == "regression" and x["gated"]})
    return r.returncode, failed


def test_compare_gate(benchmark, tmp_path):
    def measure():
        same = []
        for i in range(RUNS + 1):
            _run(BASE, tmp_path / f"a{i}")
            same.append(tmp_path / f"a{i}")
        aa = [_compare(same[i], same[i + 1], tmp_path / f"aa{i}.json") for i in range(RUNS)]
        reg = []
        for i in range(RUNS):
            _run(SLOWER, tmp_path / f"s{i}")
            reg.append(_compare(same[i], tmp_path / f"s{i}", tmp_path / f"reg{i}.json"))
        return aa, reg

    aa, reg = benchmark.pedantic(measure, rounds=1, iterations=1)
    aa_fail = [f for code, f in aa if code == 1]
    reg_pass = sum(code == 0 for code, _ in reg)
    benchmark.extra_info.update(runs=RUNS, aa_exit_1=len(aa_fail), aa_failed_on=aa_fail,
                                regression_missed=reg_pass)
    assert len(aa_fail) <= max(1, RUNS // 20), aa_fail
    assert reg_pass == 0, reg
