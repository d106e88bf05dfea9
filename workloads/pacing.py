"""Operation schedules: open loop at a target rate, or closed loop as fast as possible.

Open loop fixes every operation's intended time in advance (``t0 + i / rate``); if the
workload falls behind (because a sensor slowed a syscall, say) the next operations are
issued late, and their intended times keep that delay visible instead of omitting it
(coordinated omission). The pacer sleeps rather than spins, so it does not steal the
sensor's CPU on small machines.

Arrivals are Poisson by default (exponential gaps with mean ``1/rate``): evenly spaced
operations phase-lock with anything periodic in a sensor (a poll interval, a flush timer)
and then measure the phase, not the sensor. ``uniform`` keeps the even spacing.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from bench.core.clock import now_ns

# Below this much time to the next operation, do not sleep: the sleep's own overshoot
# (tens of microseconds) would make us later than issuing right away.
_MIN_SLEEP_NS = 60_000


def open_loop(rate: float, duration_s: float, poll: Callable[[], None] | None = None,
              clock=now_ns, arrivals: str = "poisson",
              seed: int = 0) -> Iterator[tuple[int, int]]:
    """Yield (op index, intended time ns) for ``rate * duration_s`` operations."""
    n = max(1, int(round(rate * duration_s)))
    period = 1e9 / rate
    gap = random.Random(seed).expovariate if arrivals == "poisson" else None
    t0 = clock() + 1_000_000  # first op 1 ms from now, so op 0 is not already late
    sleep = time.sleep
    t_next = float(t0)
    for i in range(n):
        t_int = int(t_next)
        t_next += gap(1.0) * period if gap else period
        now = clock()
        if poll is not None and (i & 63 == 0 or t_int - now > _MIN_SLEEP_NS):
            # Bookkeeping goes into idle time, and at least every 64 ops when saturated.
            poll()
            now = clock()
        if t_int - now > _MIN_SLEEP_NS:
            sleep((t_int - now - _MIN_SLEEP_NS // 2) / 1e9)
        yield i, t_int


def closed_loop(duration_s: float, poll: Callable[[], None] | None = None,
                clock=now_ns) -> Iterator[tuple[int, int]]:
    """Yield (op index, now) back to back until ``duration_s`` has passed."""
    deadline = clock() + int(duration_s * 1e9)
    i = 0
    while True:
        now = clock()
        if now >= deadline:
            return
        if poll is not None and i % 64 == 0:
            poll()
        yield i, now
        i += 1


ARRIVALS = ("poisson", "uniform")


def schedule(rate: float | None, duration_s: float, poll=None, arrivals: str = "poisson",
             seed: int = 0) -> Iterator[tuple[int, int]]:
    """``rate=None`` means closed loop (the ``max`` rate)."""
    if rate is None:
        return closed_loop(duration_s, poll)
    return open_loop(rate, duration_s, poll, arrivals=arrivals, seed=seed)
