"""Columnar arrays (events, with an object ``path`` column) to and from ``.npz`` files.

Sensor processes hand their events to the harness this way: numpy only, so a sensor does
not load pandas or pyarrow and its memory footprint stays its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.backends.base import EVENT_COLUMNS


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
