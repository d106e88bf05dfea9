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
"""

from __future__ import annotations

import heapq
import random
import select
import socket
import threading
import time

from bench.backends.base import Backend, EventSink
from bench.settings import Setting, non_negative, probability
from bench.kinds import ALL_KINDS, PATH_KEYED
from bench.truth import TAP_HEADER


def _tight_timers() -> None:
    # Default timer slack (50 us) would add itself to every injected delay but not to the
    # delay_us=0 floor, biasing calibration; 1 ns slack makes sleeps end on time.
    try:
        import ctypes

        ctypes.CDLL(None).prctl(29, 1)  # PR_SET_TIMERSLACK
    except (OSError, AttributeError):
        pass


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
    }

    def start(self, sink: EventSink) -> None:
        if self.ctx.tap_fd < 0:
            raise RuntimeError("synthetic backend started without the ground-truth side channel")
        self.sock = socket.socket(fileno=self.ctx.tap_fd)
        self.sock.setblocking(False)
        self.sink = sink
        self.dropped = 0
        self.duplicated = 0
        self.received = 0
        self.malformed = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="synthetic", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        _tight_timers()
        rng = random.Random(self.cfg["seed"])
        delay = int(self.cfg["delay_us"] * 1000)
        jitter_mean = self.cfg["jitter_us"] * 1000
        drop = self.cfg["drop"]
        dup = self.cfg["dup"]
        reorder = self.cfg["reorder_us"] * 1000
        heap: list[tuple[int, int, tuple]] = []
        seq = 0
        clock = time.monotonic_ns
        hsize = TAP_HEADER.size
        add = self.sink.add
        spin = int(self.cfg["spin_us"] * 1000)
        while not self._stop.is_set():
            now = clock()
            while heap and heap[0][0] - spin <= now:
                # Close to due: spin rather than sleep, since waking from a sleep costs
                # tens of microseconds on a busy machine, and that would add to the delay.
                due = heap[0][0]
                while now < due:
                    now = clock()
                _, _, (kind, key, path) = heapq.heappop(heap)
                add(kind, key, path, 0, clock())
                now = clock()
            timeout = 0.05 if not heap else max(0.0, (heap[0][0] - spin - now) / 1e9)
            r, _, _ = select.select([self.sock], [], [], timeout)
            if not r:
                continue
            while True:
                try:
                    msg = self.sock.recv(4096)
                except BlockingIOError:
                    break
                except OSError:
                    return
                if len(msg) < hsize:
                    self.malformed += 1
                    continue
                self.received += 1
                kind, _op, key, _t_issue = TAP_HEADER.unpack_from(msg)
                # Randomness is drawn in arrival order, so a seed reproduces the same drops.
                if drop and rng.random() < drop:
                    self.dropped += 1
                    continue
                due = clock() + delay
                if jitter_mean:
                    due += int(rng.expovariate(1.0 / jitter_mean))
                if reorder:
                    due += int(rng.uniform(0, reorder))
                path = msg[hsize:].decode() if kind in PATH_KEYED else None
                heapq.heappush(heap, (due, seq, (kind, key, path)))
                seq += 1
                if dup and rng.random() < dup:
                    self.duplicated += 1
                    heapq.heappush(heap, (due + 1000, seq, (kind, key, path)))
                    seq += 1

    def stop(self) -> None:
        if getattr(self, "_thread", None) is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self.sock.close()
            self._thread = None

    def stats(self) -> dict:
        return {"self_reported_lost": getattr(self, "dropped", None),
                "duplicated": getattr(self, "duplicated", 0),
                "received": getattr(self, "received", 0),
                "malformed": getattr(self, "malformed", 0)}
