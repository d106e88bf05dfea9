"""Operation schedules: open loop at a target rate, or closed loop as fast as possible.

Open loop fixes every operation's intended time in advance (``t0 + i / rate``); if the
workload falls behind (because a sensor slowed a syscall, say) the next operations are
issued late, and their intended times keep that delay visible instead of omitting it
(coordinated omission). The pacer sleeps rather than spins, so it does not steal the
sensor's CPU on small machines.

Arrivals are Poisson by default (exponential gaps with mean ``1/rate``): evenly spaced
operations phase-lock with anything periodic in a sensor (a poll interval, a flush timer)
and then measure the phase, not the sensor. ``uniform`` keeps the even spacing.

``burst:on_ms=A,off_ms=B,peak=P`` alternates, from the start of the cell, B ms at the
cell's rate (the base) and A ms at P ops/s, Poisson throughout; the gap after an operation
is drawn at the rate of the phase that operation falls in, and the schedule runs until the
cell's duration is over (not a count of operations). A sensor is at its steady state when
the first burst comes, and its recovery shows in the base stretch after each burst.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bench.core.clock import now_ns

# Below this much time to the next operation, do not sleep: the sleep's own overshoot
# (tens of microseconds) would make us later than issuing right away.
_MIN_SLEEP_NS = 60_000


@dataclass(frozen=True)
class Burst:
    """Bursts of ``peak`` ops/s for ``on_ms`` after every ``off_ms`` at the base rate."""
    on_ms: float
    off_ms: float
    peak: float

    @property
    def text(self) -> str:
        return f"burst:on_ms={self.on_ms:g},off_ms={self.off_ms:g},peak={self.peak:g}"

    def windows_ns(self, duration_s: float) -> list[tuple[int, int]]:
        """Each burst's [start, end) in ns from the schedule's first intended time."""
        cycle, off, end = (self.on_ms + self.off_ms) * 1e6, self.off_ms * 1e6, duration_s * 1e9
        out, k = [], 0
        while k * cycle + off < end:
            out.append((int(k * cycle + off), int(min(k * cycle + cycle, end))))
            k += 1
        return out


def parse_arrivals(text: str) -> str | Burst:
    """``poisson``, ``uniform`` or a ``Burst`` (ValueError, one line, for anything else)."""
    if text in ARRIVALS:
        return text
    name, _, rest = text.partition(":")
    if name != "burst":
        raise ValueError(f"bad arrivals {text!r}: poisson, uniform or "
                         "burst:on_ms=A,off_ms=B,peak=P")
    values = {}
    for item in rest.split(","):
        key, eq, raw = item.strip().partition("=")
        if key not in ("on_ms", "off_ms", "peak") or not eq:
            raise ValueError(f"bad arrivals {text!r}: burst takes on_ms=, off_ms= and peak=")
        try:
            values[key] = float(raw)
        except ValueError:
            raise ValueError(f"bad arrivals {text!r}: {key} is not a number") from None
    missing = [k for k in ("on_ms", "off_ms", "peak") if k not in values]
    if missing:
        raise ValueError(f"bad arrivals {text!r}: burst needs {', '.join(missing)}")
    if not all(math.isfinite(v) and v > 0 for v in values.values()):
        raise ValueError(f"bad arrivals {text!r}: on_ms, off_ms and peak must be > 0")
    return Burst(**values)


def open_loop(rate: float, duration_s: float, poll: Callable[[], None] | None = None,
              clock=now_ns, arrivals: str = "poisson",
              seed: int = 0) -> Iterator[tuple[int, int]]:
    """Yield (op index, intended time ns) for ``rate * duration_s`` operations (bursts:
    every operation due before ``duration_s`` is over)."""
    shape = parse_arrivals(arrivals)
    burst = shape if isinstance(shape, Burst) else None
    n = max(1, int(round(rate * duration_s)))
    period = 1e9 / rate
    gap = random.Random(seed).expovariate if shape != "uniform" else None
    t0 = clock() + 1_000_000  # first op 1 ms from now, so op 0 is not already late
    sleep = time.sleep
    t_next = float(t0)
    if burst:
        cycle, off = (burst.on_ms + burst.off_ms) * 1e6, burst.off_ms * 1e6
        peak_period, end = 1e9 / burst.peak, t0 + duration_s * 1e9
    for i in itertools.count():
        if (t_next >= end) if burst else (i >= n):
            return
        t_int = int(t_next)
        if burst:   # the gap is drawn at the rate of the phase this operation is in
            t_next += gap(1.0) * (peak_period if math.fmod(t_next - t0, cycle) >= off
                                  else period)
        else:
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


ARRIVALS = ("poisson", "uniform")   # and burst:on_ms=,off_ms=,peak= (parse_arrivals)


def schedule(rate: float | None, duration_s: float, poll=None, arrivals: str = "poisson",
             seed: int = 0) -> Iterator[tuple[int, int]]:
    """``rate=None`` means closed loop (the ``max`` rate)."""
    if rate is None:
        return closed_loop(duration_s, poll)
    return open_loop(rate, duration_s, poll, arrivals=arrivals, seed=seed)
