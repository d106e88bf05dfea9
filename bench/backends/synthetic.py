"""``synthetic``: the calibration backend that keeps every other number honest.

It receives the workload's ground-truth rows as they are recorded (through the ledger's
side channel), and re-emits each one ``delay_us`` after it arrived (plus an exponential
jitter of mean ``jitter_us``, plus a uniform ``0..reorder_us`` that delivers events out of
order), dropping each with probability ``drop`` and reporting each with probability
``dup`` a second time (1 µs after the first). The delay counts
from arrival, not from the operation's issue, so it adds to the side channel's own latency
(which ``delay_us=0`` measures: the floor) instead of hiding inside it. The harness must
recover exactly what was injected: the drop count it computes must equal the count this
backend reports, and latency must sit at the injected delay above the floor.

Its stats say what it really did, so a check need not trust a floor measured in another
cell, nor a machine to wake a thread on time: ``own_latency`` (per kind, the count, sum
and quantiles of ``t_seen - t_issue`` of every first report, which the harness's matched
latencies must equal exactly, and that sum split into its three parts: ``tap_sum_ns``, the
side channel's own latency, arrival - t_issue; ``injected_sum_ns``, the delay drawn, due -
arrival; ``late_sum_ns``, how late the report went out, t_seen - due), ``held_p50_ns``
(arrival to report), ``emit_late_*`` (report after its due time) and ``tap_*`` (the side
channel's latency over every arrival, dropped ones included).

A known capacity calibrates the max sustainable rate and its search: with ``capacity`` set,
events beyond that many per second are dropped (a token bucket holding
``CAPACITY_BURST_S`` of them), so a sensor that can take exactly ``capacity`` events/s
sustained is what the search must find. Its drops count in ``self_reported_lost`` like the
random ones, and on their own in ``over_capacity``.

Two known CPU costs calibrate the sensor's cost columns (``bench.harness.accounting``):
``work_us`` burns that much of the receiving thread's CPU on every event it receives (a
per-event cost), ``idle_pct`` keeps a thread burning that share of one core whether events
come or not (a fixed cost, like a polling sensor's). ``work_cpu_s`` and
``idle_burnt_cpu_s`` in its stats are what they burnt, read from the threads' CPU clocks.
"""

from __future__ import annotations

import heapq
import random
import select
import socket
import threading
import time
from array import array

from bench.core.osapi import tight_timers
from bench.core.errors import SensorFailed
from bench.core.events import EventSink
from bench.backends.base import Backend
from bench.core.settings import Setting, non_negative, probability
from bench.core.kinds import ALL_KINDS, PATH_KEYED, Kind
from bench.core.ledger import TAP_HEADER
from bench.core.clock import now_ns


# How much of a burst the capacity's bucket takes in (seconds at ``capacity``): enough that
# Poisson arrivals below capacity, and a workload catching up on its schedule after the
# machine held it off the CPU, lose well under the drop threshold. A cell of T seconds
# above capacity then loses more than the threshold from about C * (1 + burst / T) on.
CAPACITY_BURST_S = 0.1


def _below_100(v) -> str | None:
    return None if 0 <= v < 100 else "must be >= 0 and < 100"


def _burn(ns: int) -> int:
    """Burn ``ns`` of this thread's CPU time; returns what it burnt (a little more)."""
    start = time.thread_time_ns()
    while (used := time.thread_time_ns() - start) < ns:
        pass
    return used


class SyntheticBackend(Backend):
    name = "synthetic"
    mode = "calibration"
    mechanism = "ground-truth replay with injected delay and drop"
    kinds = ALL_KINDS
    needs_tap = True
    description = "re-emits ground truth with known delay and drop: calibrates the harness"
    settings = {
        "delay_us": Setting(float, 0.0, "delay added after the operation is issued (us)",
                            non_negative),
        "jitter_us": Setting(float, 0.0, "mean of an exponential jitter added to the delay (us)",
                             non_negative),
        "drop": Setting(float, 0.0, "probability of dropping each event", probability),
        "dup": Setting(float, 0.0, "probability of reporting an event twice", probability),
        "reorder_us": Setting(float, 0.0, "uniform extra delay 0..N us: events arrive out of "
                              "order", non_negative),
        "seed": Setting(int, 1, "random seed for drop and jitter"),
        "spin_us": Setting(float, 100.0, "busy-wait this long before a due time instead of "
                           "sleeping, so wake-up latency does not add to the delay (us)",
                           non_negative),
        "work_us": Setting(float, 0.0, "CPU to burn on each event received: a known "
                           "per-event cost (us of thread CPU time)", non_negative),
        "capacity": Setting(float, 0.0, "events per second it can take; more are dropped "
                            "(0: no limit): a known max sustainable rate", non_negative),
        "idle_pct": Setting(float, 0.0, "share of one core to burn whether events come or "
                            "not: a known fixed cost, like a polling sensor's (%)",
                            _below_100),
    }

    @classmethod
    def quiet_for(cls, settings) -> float:
        # Events are held back by the injected delay: the drain must outwait the longest.
        held = settings["delay_us"] + settings["reorder_us"] + 10 * settings["jitter_us"]
        return cls.quiet_s + held / 1e6

    @classmethod
    def has_limit(cls, settings) -> bool:
        # a capacity, a cost per event or a core burnt can make it fall behind, and drops
        # fail it at any rate; a delay, jitter or reordering alone never do
        return any(settings[k] for k in ("capacity", "work_us", "idle_pct", "drop"))

    def start(self, sink: EventSink) -> None:
        if self.ctx.tap_fd < 0:
            raise SensorFailed("synthetic backend started without the ground-truth side channel")
        self.sock = socket.socket(fileno=self.ctx.tap_fd)
        self.sock.setblocking(False)
        self.sink = sink
        self.dropped = 0
        self.over_capacity = 0
        self.duplicated = 0
        self.received = 0
        self.malformed = 0
        # The injection as it was realized: how late each emission was against its due
        # time, and how long the side channel took (arrival - t_issue), in ns. They tell
        # a user what the machine let this instrument do.
        self._late = array("q")
        self._tap = array("q")
        self._held = array("q")  # arrival -> report of first reports: the delay as injected
        # kind -> t_seen - t_issue of every first report: the latencies the harness must
        # find, exactly, if it pairs each report with its operation
        self._own: dict[int, array] = {}
        # kind -> [tap, injected, late] sums of those reports (ns): each latency is exactly
        # its side channel's time + the delay drawn + the lateness of its emission
        self._parts: dict[int, list[int]] = {}
        # thread CPU the known costs took, as burnt (the truth a check compares with)
        self.work_ns = 0
        self.idle_burnt_ns = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="synthetic", daemon=True)
        self._thread.start()
        self._idle = None
        if self.cfg["idle_pct"]:
            self._idle = threading.Thread(target=self._idle_loop, name="synthetic-idle",
                                          daemon=True)
            self._idle.start()

    def _idle_loop(self) -> None:
        """Burn ``idle_pct`` of one core at a steady pace: whenever this thread's CPU has
        fallen behind that share of the wall time since it began, burn up to it, in
        slices of 1 ms, then sleep. Paced by the wall clock, so a thread held off the CPU
        catches up and the rate holds whatever else the machine does."""
        share = self.cfg["idle_pct"] / 100
        t0, cpu0 = now_ns(), time.thread_time_ns()
        while not self._stop.wait(0.001):
            owed = share * (now_ns() - t0) - (time.thread_time_ns() - cpu0)
            if owed > 0:
                self.idle_burnt_ns += _burn(int(owed))

    def _loop(self) -> None:
        # Default timer slack (50 us) would add itself to every injected delay but not to
        # the delay_us=0 floor, biasing calibration; 1 ns slack makes sleeps end on time.
        tight_timers()
        rng = random.Random(self.cfg["seed"])
        delay = int(self.cfg["delay_us"] * 1000)
        jitter_mean = self.cfg["jitter_us"] * 1000
        drop = self.cfg["drop"]
        dup = self.cfg["dup"]
        reorder = self.cfg["reorder_us"] * 1000
        heap: list[tuple[int, int, tuple]] = []
        seq = 0
        clock = now_ns
        hsize = TAP_HEADER.size
        add = self.sink.add
        spin = int(self.cfg["spin_us"] * 1000)
        work = int(self.cfg["work_us"] * 1000)
        late, tap, held = self._late, self._tap, self._held
        recv = self.sock.recv
        own, parts = self._own, self._parts
        capacity = self.cfg["capacity"] / 1e9          # events per ns
        burst = max(1.0, self.cfg["capacity"] * CAPACITY_BURST_S)
        tokens, last = burst, clock()

        def emit_due(now: int) -> None:
            while heap and heap[0][0] <= now:
                due, _, (kind, key, path, t_issue, arrived, first) = heapq.heappop(heap)
                add(kind, key, path, 0, now)
                late.append(now - due)
                if first:
                    own.setdefault(kind, array("q")).append(now - t_issue)
                    held.append(now - arrived)
                    p = parts.setdefault(kind, [0, 0, 0])
                    p[0] += arrived - t_issue
                    p[1] += due - arrived
                    p[2] += now - due
                now = clock()

        while not self._stop.is_set():
            emit_due(clock())
            # Take in whatever arrived before waiting again, and while spinning towards a
            # due time: an arrival left waiting would be stamped late, and since the delay
            # counts from arrival, every injected event would carry that wait on top.
            while True:
                try:
                    msg = recv(4096)
                except BlockingIOError:
                    break
                except OSError:
                    return
                arrived = clock()
                if len(msg) < hsize:
                    self.malformed += 1
                    continue
                self.received += 1
                kind, _op, key, t_issue = TAP_HEADER.unpack_from(msg)
                tap.append(arrived - t_issue)
                if work:
                    self.work_ns += _burn(work)
                if capacity:
                    tokens = min(burst, tokens + (arrived - last) * capacity)
                    last = arrived
                    if tokens < 1:
                        self.dropped += 1
                        self.over_capacity += 1
                        continue
                    tokens -= 1
                # Randomness is drawn in arrival order, so a seed reproduces the same drops.
                if drop and rng.random() < drop:
                    self.dropped += 1
                    continue
                due = arrived + delay
                if jitter_mean:
                    due += int(rng.expovariate(1.0 / jitter_mean))
                if reorder:
                    due += int(rng.uniform(0, reorder))
                path = msg[hsize:].decode() if kind in PATH_KEYED else None
                heapq.heappush(heap, (due, seq, (kind, key, path, t_issue, arrived, True)))
                seq += 1
                if dup and rng.random() < dup:
                    self.duplicated += 1
                    heapq.heappush(heap, (due + 1000, seq, (kind, key, path, t_issue, arrived, False)))
                    seq += 1
                # What is due now (all of it with delay_us=0: the floor) goes out before
                # the next arrival is read, so the floor holds the side channel and not
                # the time spent on the events queued behind it.
                emit_due(clock())
            if heap and heap[0][0] - spin <= clock():
                # Close to due: spin rather than sleep, since waking from a sleep costs
                # tens of microseconds on a busy machine, and that would add to the delay.
                continue
            timeout = 0.05 if not heap else max(0.0, (heap[0][0] - spin - clock()) / 1e9)
            select.select([self.sock], [], [], timeout)

    def stop(self) -> None:
        if getattr(self, "_thread", None) is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            if self._idle is not None:
                self._idle.join(timeout=5)
            self.sock.close()
            self._thread = None

    def stats(self) -> dict:
        import numpy as np

        def q(a, p):
            return float(np.percentile(np.frombuffer(a, np.int64), p)) if len(a) else None

        late, tap, held = (getattr(self, a, array("q")) for a in ("_late", "_tap", "_held"))
        parts = getattr(self, "_parts", {})
        own = {Kind(k).name: {"n": len(a), "sum_ns": int(sum(a)), "p50_ns": q(a, 50),
                              "p99_ns": q(a, 99),
                              **dict(zip(("tap_sum_ns", "injected_sum_ns", "late_sum_ns"),
                                         parts.get(k, (0, 0, 0))))}
               for k, a in sorted(getattr(self, "_own", {}).items())}
        return {"own_latency": own, "held_p50_ns": q(held, 50),
"emit_late_p50_ns": q(late, 50), "emit_late_p99_ns": q(late, 99),
                "tap_p50_ns": q(tap, 50), "tap_p99_ns": q(tap, 99),
"self_reported_lost": getattr(self, "dropped", None),
                "duplicated": getattr(self, "duplicated", 0),
                "over_capacity": getattr(self, "over_capacity", 0),
                "received": getattr(self, "received", 0),
                "work_cpu_s": getattr(self, "work_ns", 0) / 1e9,
                "idle_burnt_cpu_s": getattr(self, "idle_burnt_ns", 0) / 1e9,
                "malformed": getattr(self, "malformed", 0)}
