"""The ground-truth ledger a workload writes: one row per event the workload expects.

A workload operation that should produce several events (a spawn: fork, exec, exit) writes
one row per expected event; rows of one operation share its op id. Rows live in
preallocated ``array.array`` columns because recording sits on the workload's hot path and
must cost well under a microsecond (see ``tests/benchmarks/bench_ledger.py``). The ledger is handed to
the harness as a file (``save``, ``load``) when the workload ends.

An optional *tap* (a datagram socket) mirrors every row as it is recorded: it is the side
channel through which the ``synthetic`` calibration backend learns what happened.
"""

from __future__ import annotations

import json
import socket
import struct
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

COLUMNS = ("op", "kind", "key", "t_intended", "t_issue", "t_done")
TAP_HEADER = struct.Struct("<BIqq")  # kind, op, key, t_issue; the path (if any) follows


class Ledger:
    """Preallocated columns; ``record`` appends one expected event."""

    def __init__(self, capacity: int, tap: socket.socket | None = None):
        self.capacity = max(16, int(capacity))
        self.n = 0
        self._cols = {c: array("q", bytes(8 * self.capacity)) for c in COLUMNS}
        self.paths: list[str | None] = [None] * self.capacity
        self._tap = tap
        self.tap_errors = 0

    def _grow(self) -> None:
        extra = self.capacity
        for col in self._cols.values():
            col.extend(bytes(8 * extra))
        self.paths.extend([None] * extra)
        self.capacity += extra

    def record(self, op: int, kind: int, key: int, path: str | None,
               t_intended: int, t_issue: int, t_done: int) -> None:
        i = self.n
        if i >= self.capacity:
            self._grow()
        c = self._cols
        c["op"][i] = op
        c["kind"][i] = kind
        c["key"][i] = key
        c["t_intended"][i] = t_intended
        c["t_issue"][i] = t_issue
        c["t_done"][i] = t_done
        self.paths[i] = path
        self.n = i + 1
        if self._tap is not None:
            self._send_tap(op, kind, key, path, t_issue)

    def _send_tap(self, op: int, kind: int, key: int, path: str | None, t_issue: int) -> None:
        msg = TAP_HEADER.pack(kind, op, key, t_issue)
        if path:
            msg += path.encode()
        try:
            self._tap.send(msg)
        except OSError:
            # The calibration sensor went away; the ledger itself must not fail.
            self.tap_errors += 1

    def arrays(self) -> dict[str, np.ndarray]:
        # numpy is imported when the ledger is handed over, not at the workload's start:
        # that start is paid again by every cell.
        import numpy as np

        out = {c: np.frombuffer(self._cols[c], dtype=np.int64, count=self.n).copy() for c in COLUMNS}
        out["path"] = np.array(self.paths[: self.n], dtype=object)
        return out

    def save(self, path: str | Path, meta: dict) -> None:
        """One header line (JSON: rows, meta, size of the paths), then each column's raw
        int64s, then the paths joined by newlines. Written without numpy: importing it
        took 70 ms of every cell's wall time (the harness reads it with numpy)."""
        blob = "\n".join(p or "" for p in self.paths[: self.n]).encode()
        head = json.dumps({"n": self.n, "columns": list(COLUMNS), "paths_bytes": len(blob),
                           "meta": meta}, default=str).encode()
        with open(path, "wb") as f:
            f.write(head + b"\n")
            for c in COLUMNS:
                f.write(memoryview(self._cols[c])[: self.n].tobytes())
            f.write(blob)


@dataclass
class Truth:
    """A loaded ledger: numpy columns plus the workload's own summary."""

    cols: dict[str, np.ndarray]
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cols["op"])


def load(path: str | Path) -> Truth:
    import numpy as np

    data = Path(path).read_bytes()
    end = data.index(b"\n")
    head = json.loads(data[:end])
    n, off = head["n"], end + 1
    cols = {}
    for c in head["columns"]:
        cols[c] = np.frombuffer(data, dtype=np.int64, count=n, offset=off).copy()
        off += 8 * n
    blob = data[off:off + head["paths_bytes"]].decode()
    meta = head["meta"]
    paths = blob.split("\n") if n else []
    cols["path"] = np.array([p or None for p in paths], dtype=object)
    return Truth(cols, meta)

