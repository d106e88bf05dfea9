"""The plan of a run: every sensor cell next to a baseline cell of its block, in random
order, a baseline serving two sensors, the same plan again on resume."""

from pathlib import Path

from bench.harness import spec
from bench.harness.runner import RunConfig, plan

SPECS = ["synthetic", "null_sensor", "synthetic:delay_us=10"]


def _plan(names, repeat=6, baseline=True):
    specs = [spec.parse_backend(n) for n in names]
    cfg = RunConfig(specs, [spec.parse_workload("file"), spec.parse_workload("network")],
                    ["1000"], 0.5, repeat, Path("/nonexistent"), baseline=baseline)
    return plan(cfg)


def test_each_sensor_cell_is_next_to_its_baseline_in_random_order():
    cells = _plan(SPECS)
    by_id = {c.id: c for c in cells}
    assert [c.index for c in cells] == list(range(len(cells)))
    sensors = [c for c in cells if c.spec is not None]
    before = after = 0
    for s in sensors:
        assert s.block and s.baseline_id in by_id, s.id
        b = by_id[s.baseline_id]
        assert b.spec is None and s.spec in b.pairs
        assert abs(b.index - s.index) == 1, (s.id, b.id)   # adjacent in time
        before += b.index < s.index
        after += b.index > s.index
    assert before and after   # both orders occur
    # a baseline serves at most two sensors, each on one side of it; three sensors of a
    # workload x rate x repetition need two baselines, not three
    bases = [c for c in cells if c.spec is None]
    assert all(1 <= len(b.pairs) <= 2 for b in bases)
    assert len(bases) == 6 * 2 * 2 and len(sensors) == 6 * 2 * 3


def test_the_same_plan_again_for_resume_and_pairs_that_change_between_repetitions():
    a, b = _plan(SPECS), _plan(SPECS)
    assert [c.id for c in a] == [c.id for c in b]
    pairs = {frozenset(s.text for s in c.pairs) for c in a if c.spec is None and len(c.pairs) == 2}
    assert len(pairs) >= 2   # the rotation gives each sensor other neighbours


def test_without_baselines_no_cell_has_a_block():
    cells = _plan(SPECS, repeat=1, baseline=False)
    assert all(c.spec is not None and not c.block and not c.baseline_id for c in cells)
