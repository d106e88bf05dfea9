"""Kept benchmark: calibration accuracy of the whole harness, with the numbers in extra_info.

``synthetic:delay_us=500,drop=0.02`` at 2,000 ops/s: recovered p50 minus the floor measured
with ``delay_us=0`` (target 500 us within 10 %) and the drop rate (target 2 % within 0.5 pp).
"""

import pandas as pd

from tests.helpers import sensorbench


def test_calibration_accuracy(benchmark, tmp_path):
    out = tmp_path / "cal"

    def run():
        sensorbench("run", "-b", "synthetic,synthetic:delay_us=500,drop=0.02", "-w", "file",
                    "-r", "2000", "-d", "5", "--no-baseline", "--out", str(out), check=True)
        return pd.read_csv(out / "cells.csv")

    cells = benchmark.pedantic(run, rounds=1, iterations=1)
    floor = cells[cells["spec"] == "synthetic"]["latency_p50_us"].median()
    inj = cells[cells["spec"] != "synthetic"]
    p50 = inj["latency_p50_us"].median()
    drop = 1 - inj["matched"].sum() / inj["expected"].sum()
    benchmark.extra_info.update(floor_us=floor, p50_minus_floor_us=p50 - floor, drop_rate=drop)
    assert abs(p50 - floor - 500) <= 50
    assert abs(drop - 0.02) <= 0.005
