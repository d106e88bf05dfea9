"""The user-space consumer: one thread that takes ring-buffer batches and feeds the sink.

ring.c's loop (sb_run) moves records out of the BPF ring buffer in C, looking every
``period_ms`` or when the kernel wakes it, and stamps ``t_seen`` when it takes them; this
thread gets what it gathered every ``handoff_ms``, decodes it with numpy (decode.py) and
hands it to the sink as columns. So a wake-up costs no Python, and Python's per-batch cost
is paid at most 1000/handoff_ms times a second. The ctypes calls release the GIL while
they wait.

``keep_cgid``: with filter=none every event of the machine crosses the ring buffer and is
decoded here, as a machine-wide sensor does; the sink then only gets the workload cgroup's
events (``deliver=ours``), so the harness's drain check and event file are not swamped by
the rest of the machine. The others are counted (``foreign``): that is the extra work.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

from bench.core.errors import FacilityError, SensorFailed
from bench.core.events import EventSink
from bench.backends.ebpf.decode import EVENT_DTYPE, decode

BATCH = 65536  # records per batch at most (ring.c's buffers)
# wakeup=threshold: the consumer goes to sleep after this many looks that found nothing.
# Few, because a look costs as much as a wake-up (~20 us of CPU under a hypervisor): at
# 200 events/s, looking every millisecond would cost 100 us per event; sleeping costs a
# forced wake-up for the next record instead.
IDLE_POLLS = 2


class Consumer:
    def __init__(self, shim, ringbuf_fd: int, sink: EventSink, keep_cgid: int | None,
                 period_ms: int = 1, handoff_ms: int = 10, sleep_map_fd: int = -1):
        self.S = shim
        self.sink = sink
        self.keep_cgid = keep_cgid
        self.period_ms = period_ms
        self.handoff_ms = handoff_ms
        if self.S.event_size() != EVENT_DTYPE.itemsize:
            raise SensorFailed("libsbring.so and decode.py disagree on the record size: "
                               "rebuild with make")
        self.c = self.S.open(ringbuf_fd, BATCH)
        if not self.c:
            raise FacilityError(ctypes.get_errno(), "cannot create the ring buffer consumer")
        if sleep_map_fd >= 0:  # wakeup=threshold: look every period, sleep when idle
            err = self.S.adaptive(self.c, sleep_map_fd)
            if err < 0:
                self.close()
                raise FacilityError(-err, "cannot map the sensor's consumer flag")
        self.decoded = self.delivered = self.foreign = self.parse_errors = 0
        self.batches = self.max_batch = 0
        self.error: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="ebpf-consumer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            n = self.S.run(self.c, self.period_ms * 1000, self.handoff_ms, IDLE_POLLS)
            if n < 0:
                self.error = f"ring buffer poll failed: errno {-n}"
                return
            if not n:  # sb_run holds on until it has records: none means sb_stop
                return
            self.take(n)

    @property
    def wakeups(self) -> int:
        return int(self.S.wakeups(self.c)) if self.c else 0

    @property
    def sleeps(self) -> int:
        return int(self.S.sleeps(self.c)) if self.c else 0

    def take(self, n: int) -> None:
        """Decode the ``n`` records ring.c holds and deliver them."""
        meta = ctypes.string_at(self.S.meta(self.c), n * EVENT_DTYPE.itemsize)
        blob = ctypes.string_at(self.S.blob(self.c), self.S.blob_len(self.c))
        try:
            cols = decode(meta, blob)
        except ValueError:
            self.parse_errors += n
            return
        seen = np.frombuffer(ctypes.string_at(self.S.seen(self.c), n * 8), dtype=np.int64)
        self.batches += 1
        self.max_batch = max(self.max_batch, n)
        self.decoded += n
        keep = cols["valid"]
        self.parse_errors += int(n - np.count_nonzero(keep))
        if self.keep_cgid is not None:
            ours = cols["cgid"] == self.keep_cgid
            self.foreign += int(np.count_nonzero(keep & ~ours))
            keep = keep & ours
        k = int(np.count_nonzero(keep))
        if not k:
            return
        if k != n:
            cols = {c: v[keep] for c, v in cols.items()}
            seen = seen[keep]
        self.sink.add_batch(cols["kind"], cols["key"], cols["pid"], seen,
                            cols["t_kernel"], cols["path"])
        self.delivered += k

    def feed(self, raw: bytes) -> int:
        """Push ring-format records (decode.pack_records) through ring.c's callback and
        decode them, as the ring would deliver them. Returns how many records were taken."""
        base = ctypes.cast(ctypes.c_char_p(raw), ctypes.c_void_p).value
        used = ctypes.c_size_t(0)
        off = total = 0
        while off < len(raw):
            n = self.S.feed(self.c, base + off, len(raw) - off, ctypes.byref(used))
            if n:
                self.take(n)
            total += n
            if used.value == 0:
                break
            off += used.value
        return total

    def stop(self) -> None:
        """Stop the thread (sb_run returns within a period), then take whatever the ring
        still holds (links are gone by now, so nothing new arrives)."""
        self.S.stop(self.c)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        while True:
            n = self.S.poll(self.c)
            if n <= 0:
                break
            self.take(n)

    def close(self) -> None:
        if self.c:
            self.S.close(self.c)
            self.c = None
