"""The event schema every sensor reports in, the sink it delivers into, and the file a
sensor process hands its events over in.

Events are columnar: kind, key (pid or port pair), path (file events; argv for exec when
known), pid, t_seen and optionally t_kernel, all monotonic ns. A sensor pushes them into an
``EventSink`` from whatever threads it likes; its process saves them with ``save`` (numpy
only, so a sensor does not load pandas or pyarrow and its memory footprint stays its own)
and the harness reads them back with ``load``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from bench.core.clock import now_ns

NO_TIME = -1  # t_kernel when the backend has no kernel timestamp


class EventSink:
    """Thread-safe columnar event buffer. ``add`` for single events, ``add_batch`` for arrays."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: list[tuple] = []
        self._batches: list[dict[str, np.ndarray]] = []
        self._n_batched = 0
        self._taken = (0, 0)  # rows, batches already handed out by take_new
        self._muted: np.ndarray | None = None

    def mute(self, kinds: set[int]) -> None:
        """Drop events of these kinds from now on (a content update's rules)."""
        with self._lock:
            self._muted = np.array(sorted(kinds), dtype=np.int16) if kinds else None

    def add(self, kind: int, key: int, path: str | None, pid: int,
            t_seen: int | None = None, t_kernel: int = NO_TIME) -> None:
        if self._muted is not None and kind in self._muted:
            return
        if t_seen is None:
            t_seen = now_ns()
        row = (kind, key, path, pid, t_seen, t_kernel)
        with self._lock:
            self._rows.append(row)

    def add_batch(self, kind, key, pid, t_seen, t_kernel=None, path=None) -> None:
        n = len(kind)
        batch = {
            "kind": np.asarray(kind, dtype=np.int16),
            "key": np.asarray(key, dtype=np.int64),
            "pid": np.asarray(pid, dtype=np.int64),
            "t_seen": np.asarray(t_seen, dtype=np.int64),
            "t_kernel": (np.full(n, NO_TIME, np.int64) if t_kernel is None
                         else np.asarray(t_kernel, dtype=np.int64)),
            "path": (np.full(n, None, dtype=object) if path is None
                     else np.asarray(path, dtype=object)),
        }
        if self._muted is not None:
            keep = ~np.isin(batch["kind"], self._muted)
            batch = {c: v[keep] for c, v in batch.items()}
            n = int(keep.sum())
        with self._lock:
            self._batches.append(batch)
            self._n_batched += n

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows) + self._n_batched

    def columns(self) -> dict[str, np.ndarray]:
        with self._lock:
            rows, batches = list(self._rows), list(self._batches)
        return _join(batches, rows)

    def take_new(self) -> dict[str, np.ndarray] | None:
        """The events added since the last call (None if there are none): what a spool
        forwards, so that events in hand survive the sensor's own death."""
        with self._lock:
            r0, b0 = self._taken
            rows, batches = self._rows[r0:], self._batches[b0:]
            self._taken = (len(self._rows), len(self._batches))
        if not rows and not batches:
            return None
        return _join(list(batches), rows)


def _join(batches: list[dict[str, np.ndarray]], rows: list[tuple]) -> dict[str, np.ndarray]:
    parts = batches
    if rows:
        kind, key, path, pid, t_seen, t_kernel = zip(*rows)
        parts.append({
            "kind": np.array(kind, np.int16), "key": np.array(key, np.int64),
            "path": np.array(path, dtype=object), "pid": np.array(pid, np.int64),
            "t_seen": np.array(t_seen, np.int64), "t_kernel": np.array(t_kernel, np.int64),
        })
    return concat_events(parts)


EVENT_COLUMNS = {"kind": np.int16, "key": np.int64, "path": object, "pid": np.int64,
                 "t_seen": np.int64, "t_kernel": np.int64}


def concat_events(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        return {c: np.empty(0, dtype=t) for c, t in EVENT_COLUMNS.items()}
    return {c: np.concatenate([p[c] for p in parts]).astype(t, copy=False)
            for c, t in EVENT_COLUMNS.items()}


def save(path: str | Path, cols: dict[str, np.ndarray]) -> None:
    paths = cols["path"]
    # Newline-joined; None and "" both become "" (no event path is ever empty).
    blob = "\n".join(p.replace("\n", "?") if p else "" for p in paths).encode("utf-8", "replace")
    arrays = {c: cols[c] for c in EVENT_COLUMNS if c != "path"}
    np.savez(path, paths=np.frombuffer(blob, dtype=np.uint8), n=np.array([len(paths)]), **arrays)


def load(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        out = {c: z[c].astype(t, copy=False) for c, t in EVENT_COLUMNS.items() if c != "path"}
        n = int(z["n"][0])
        blob = z["paths"].tobytes().decode("utf-8", "replace")
    parts = blob.split("\n") if n else []
    out["path"] = np.array([p or None for p in parts], dtype=object)
    return out


# A spool: the events a sensor has in hand, appended chunk by chunk while it runs (an
# 8-byte length, then one ``save``d chunk). A sensor killed mid-write leaves a torn last
# chunk, which ``load_spool`` leaves out: those events were never handed over.
def append_spool(f, cols: dict[str, np.ndarray]) -> None:
    import io

    buf = io.BytesIO()
    save(buf, cols)
    data = buf.getvalue()
    f.write(len(data).to_bytes(8, "little") + data)
    f.flush()


def load_spool(path: str | Path) -> dict[str, np.ndarray]:
    import io

    parts = []
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        data = b""
    off = 0
    while off + 8 <= len(data):
        n = int.from_bytes(data[off:off + 8], "little")
        if off + 8 + n > len(data):
            break
        parts.append(load(io.BytesIO(data[off + 8:off + 8 + n])))
        off += 8 + n
    return concat_events(parts)
