"""The user-space consumer: one thread that takes ring-buffer batches and feeds the sink.

ring.c moves records out of the BPF ring buffer in C (libbpf ring_buffer__poll); this
thread wakes when the kernel signals data, copies the batch out, decodes it with numpy
(decode.py), stamps ``t_seen`` once per batch and hands it to the sink as columns. The
ctypes calls release the GIL while they wait.

``keep_cgid``: with filter=none every event of the machine crosses the ring buffer and is
decoded here, as a machine-wide sensor does; the sink then only gets the workload cgroup's
events (``deliver=ours``), so the harness's drain check and event file are not swamped by
the rest of the machine. The others are counted (``foreign``): that is the extra work.
"""

from __future__ import annotations

import ctypes
import threading
import time

import numpy as np

from bench.core.errors import FacilityError, SensorFailed
from bench.core.events import EventSink
from bench.backends.ebpf.decode import EVENT_DTYPE, decode

BATCH = 65536  # records per batch at most (ring.c's buffers)


class Consumer:
    def __init__(self, shim, ringbuf_fd: int, sink: EventSink, keep_cgid: int | None,
                 poll_ms: int = 100):
        self.S = shim
        self.sink = sink
        self.keep_cgid = keep_cgid
        self.poll_ms = poll_ms
        if self.S.event_size() != EVENT_DTYPE.itemsize:
            raise SensorFailed("libsbring.so and decode.py disagree on the record size: "
                               "rebuild with make")
        self.c = self.S.open(ringbuf_fd, BATCH)
        if not self.c:
            raise FacilityError(ctypes.get_errno(), "cannot create the ring buffer consumer")
        self.decoded = self.delivered = self.foreign = self.parse_errors = 0
        self.batches = self.max_batch = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="ebpf-consumer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            n = self.S.poll(self.c, self.poll_ms)
            if n < 0:
                self.error = f"ring buffer poll failed: errno {-n}"
                return
            if n:
                self.take(n)

    def take(self, n: int) -> None:
        """Decode the ``n`` records ring.c holds and deliver them."""
        meta = ctypes.string_at(self.S.meta(self.c), n * EVENT_DTYPE.itemsize)
        blob = ctypes.string_at(self.S.blob(self.c), self.S.blob_len(self.c))
        try:
            cols = decode(meta, blob)
        except ValueError:
            self.parse_errors += n
            return
        t_seen = time.monotonic_ns()
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
        self.sink.add_batch(cols["kind"], cols["key"], cols["pid"], np.full(k, t_seen),
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
        """Stop the thread, then take whatever the ring still holds (links are gone by now,
        so nothing new arrives)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        while True:
            n = self.S.poll(self.c, 0)
            if n <= 0:
                break
            self.take(n)

    def close(self) -> None:
        if self.c:
            self.S.close(self.c)
            self.c = None
