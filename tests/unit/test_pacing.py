"""Open-loop schedules: intended times fixed in advance, Poisson or uniform."""

import numpy as np
import pytest

from workloads.pacing import Burst, closed_loop, open_loop, parse_arrivals


class FakeClock:
    """A clock that only moves when the pacer sleeps or the test says so."""

    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


def test_uniform_spacing_and_count(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr("time.sleep", lambda s: setattr(clock, "t", clock.t + int(s * 1e9)))
    ops = list(open_loop(1000, 0.5, clock=clock, arrivals="uniform"))
    assert len(ops) == 500
    gaps = np.diff([t for _, t in ops])
    assert (gaps == 1_000_000).all()


def test_poisson_mean_rate_and_spread(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr("time.sleep", lambda s: setattr(clock, "t", clock.t + int(s * 1e9)))
    ops = list(open_loop(2000, 5, clock=clock, arrivals="poisson", seed=4))
    gaps = np.diff([t for _, t in ops]) / 1e3
    assert len(ops) == 10_000
    assert abs(gaps.mean() - 500) < 20          # 2000/s on average
    assert abs(gaps.std() / gaps.mean() - 1) < 0.1  # exponential: cv = 1


def test_same_seed_same_schedule(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    a = [t for _, t in open_loop(100, 1, clock=lambda: 0, seed=9)]
    b = [t for _, t in open_loop(100, 1, clock=lambda: 0, seed=9)]
    assert a == b


def test_late_operations_keep_their_intended_time():
    # A workload that falls behind issues at once, but intended times stay on schedule:
    # the delay stays visible (no coordinated omission).
    clock = FakeClock()
    clock.t = 10**9  # already a second late when the schedule starts... but t0 is taken now
    it = open_loop(1000, 0.01, clock=clock, arrivals="uniform")
    first = next(it)
    clock.t += 5_000_000  # the first operation took 5 ms
    rest = list(it)
    assert [t - first[1] for _, t in rest[:3]] == [1_000_000, 2_000_000, 3_000_000]


def test_closed_loop_runs_until_deadline():
    ticks = iter(range(0, 10**9, 10**8))
    ops = list(closed_loop(0.5, clock=lambda: next(ticks)))
    assert len(ops) == 4  # t = 0.1 .. 0.4 s after the deadline was set at 0


# -- bursts ------------------------------------------------------------------------------
BURST = "burst:on_ms=100,off_ms=400,peak=20000"


def test_bursts_run_at_their_peak_and_the_base_rate_between(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda s: None)
    t = np.array([ti for _, ti in open_loop(1000, 2.0, clock=lambda: 0, arrivals=BURST,
                                             seed=4)]) - 1_000_000
    windows = parse_arrivals(BURST).windows_ns(2.0)
    assert windows == [(400e6, 500e6), (900e6, 1000e6), (1400e6, 1500e6), (1900e6, 2000e6)]
    inside = np.zeros(len(t), bool)
    for a, b in windows:
        inside |= (t >= a) & (t < b)
    # 4 x 0.1 s at 20000/s and 1.6 s at 1000/s: 8000 and 1600 operations, Poisson spread
    assert 7600 < inside.sum() < 8400 and 1450 < (~inside).sum() < 1750
    assert t.max() < 2e9 and np.all(np.diff(t) >= 0)


def test_burst_text_round_trips_and_bad_ones_are_one_line():
    b = parse_arrivals("burst:peak=5000,off_ms=900,on_ms=50")
    assert b == Burst(50, 900, 5000) and parse_arrivals(b.text) == b
    assert b.text == "burst:on_ms=50,off_ms=900,peak=5000"
    assert parse_arrivals("poisson") == "poisson"
    for bad, says in [("bursty", "poisson, uniform or burst"), ("burst:on_ms=1,off_ms=2", "needs peak"),
                      ("burst:on_ms=1,off_ms=2,peak=x", "peak is not a number"),
                      ("burst:on_ms=0,off_ms=2,peak=3", "must be > 0"),
                      ("burst:on=1,off_ms=2,peak=3", "takes on_ms=")]:
        with pytest.raises(ValueError, match=says):
            parse_arrivals(bad)
