"""The native engine's ledger: rows in a memfd the harness creates, mapped with numpy.

The harness creates the memfd (``create``) and passes it to the workload; ``sb-load``
(``workloads/native/ledger.c``) sizes it, maps it and writes rows into it while it runs,
each writer thread into a slice of its own (no lock, no atomic per row); its summary
line says where they are (``"ledger"``: the capacity of a slice, the bytes of a row and of
a file name, where the names start, the directory every name is in, how many rows each
slice holds). ``load`` maps the memfd
once the workload has exited and gives the same ``Truth`` as ``bench.core.ledger.load``:
the columns, in op order, and the paths. Nothing here runs Python per row: numpy copies
the rows out, sorts them by op (stably: an op's rows keep their order, the exit recorded
by the reaper after its fork and exec) and turns the fixed-width paths into strings.

A memfd lives in memory only and goes away with the last descriptor: nothing goes to a
disk during the cell, and nothing is left behind whatever happens to either process.
"""

from __future__ import annotations

import mmap
import os

import numpy as np

from bench.core.ledger import COLUMNS, Truth

ROW = np.dtype([(c, "<i8") for c in COLUMNS])  # ledger.c's struct row


def create() -> int:
    """A memfd for a native ledger, inheritable (the workload gets it through pass_fds)."""
    fd = os.memfd_create("sb-ledger", 0)
    os.set_inheritable(fd, True)
    return fd


def _paths(prefix: str, names: np.ndarray) -> np.ndarray:
    """``prefix`` + each fixed-width, zero-padded name, as an object array of str, built
    by numpy: the two side by side in one record, read as one byte string."""
    head = prefix.encode()
    both = np.zeros(len(names), [("head", f"S{max(1, len(head))}"), ("name", names.dtype)])
    both["head"] = head
    both["name"] = names
    whole = both.view(f"S{both.dtype.itemsize}") if head else names
    try:
        text = whole.astype("U")           # ASCII: a cast in C
    except UnicodeDecodeError:
        text = np.char.decode(whole, "utf-8")
    out = text.astype(object)
    out[names == b""] = None
    return out


def load(fd: int, summary: dict) -> Truth:
    """The ledger in ``fd`` as the workload's ``summary`` describes it."""
    info = summary["ledger"]
    if info["row_bytes"] != ROW.itemsize:
        raise ValueError(f"native ledger rows of {info['row_bytes']} bytes, expected {ROW.itemsize}")
    cap, counts, width = int(info["capacity"]), [int(n) for n in info["counts"]], \
        int(info["name_bytes"])
    size = os.fstat(fd).st_size
    if size < int(info["size"]) or any(n < 0 or n > cap for n in counts):
        raise ValueError("native ledger smaller than its summary says")
    if size == 0:
        return _truth(np.empty(0, ROW), None, summary)
    with mmap.mmap(fd, size, prot=mmap.PROT_READ) as mm:
        rows = np.concatenate([np.frombuffer(mm, ROW, n, s * cap * ROW.itemsize)
                               for s, n in enumerate(counts)]) if counts else np.empty(0, ROW)
        names = None
        if width:
            off = int(info["names_offset"])
            names = np.concatenate([np.frombuffer(mm, f"S{width}", n, off + s * cap * width)
                                    for s, n in enumerate(counts)])
    return _truth(rows, names, summary)


def _truth(rows: np.ndarray, names: np.ndarray | None, summary: dict) -> Truth:
    order = np.argsort(rows["op"], kind="stable")
    cols = {c: np.ascontiguousarray(rows[c][order]) for c in COLUMNS}
    cols["path"] = (_paths(summary["ledger"].get("path_prefix", ""), names[order])
                    if names is not None
                    else np.full(len(order), None, dtype=object))
    meta = {k: v for k, v in summary.items() if k != "ledger"}
    return Truth(cols, meta)
