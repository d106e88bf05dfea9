"""Decode a batch of sensor records (as ring.c lays them out) into the sink's columns.

ring.c gives two flat buffers per batch: ``n`` fixed-size headers (``struct sb_event`` in
event.h, mirrored by ``EVENT_DTYPE``) and the path bytes of the records that carry one,
each followed by a NUL. Decoding is one ``np.frombuffer`` and one ``bytes.decode().split``
per batch: the per-event work is building the path strings correlation needs, nothing else.

``pack_records`` builds records the way the kernel writes them into the ring (u32 length,
padding to 8 bytes, header, path); the unit tests and the decode benchmark push such
synthetic records through ring.c's own callback, so they measure the real decode path.
"""

from __future__ import annotations

import struct

import numpy as np

from bench.core.errors import ParseError
from bench.core.kinds import Kind

SB_PATH_MAX = 256
EMPTY_PATH = 0xFFFF  # ring.c's path_len for a path record whose path is empty

EVENT_DTYPE = np.dtype([
    ("t_kernel", "<u8"), ("key", "<u8"), ("cgid", "<u8"), ("pid", "<u4"), ("tid", "<u4"),
    ("aux", "<i4"), ("kind", "<u2"), ("path_len", "<u2"),
])
assert EVENT_DTYPE.itemsize == 40  # sizeof(struct sb_event); the loader checks ring.c agrees

# kind -> known? A lookup table: np.isin costs tens of microseconds per (small) batch.
_VALID = np.zeros(1 << 16, dtype=bool)
_VALID[[int(k) for k in Kind]] = True
_HEADER = struct.Struct("<QQQIIiHH")


def decode(meta: bytes, blob: bytes) -> dict[str, np.ndarray]:
    """Columns of one batch: kind, key, pid, t_kernel, cgid, aux, path (object, None when the
    record carries no path) and ``valid`` (False for records of an unknown kind)."""
    rec = np.frombuffer(meta, dtype=EVENT_DTYPE)
    n = len(rec)
    path = np.full(n, None, dtype=object)
    has_path = rec["path_len"] != 0
    k = int(np.count_nonzero(has_path))
    if k:
        # One decode and one split for the whole batch; the NUL after each path is the
        # separator, so the split leaves one empty string at the end.
        parts = blob.decode("utf-8", "surrogateescape").split("\0")
        if len(parts) != k + 1:
            raise ParseError(f"path blob holds {len(parts) - 1} paths for {k} path records")
        path[has_path] = np.array(parts[:k], dtype=object)
    return {
        "kind": rec["kind"].astype(np.int16),
        "key": rec["key"].astype(np.int64),
        "pid": rec["pid"].astype(np.int64),
        "t_kernel": rec["t_kernel"].astype(np.int64),
        "cgid": rec["cgid"],
        "aux": rec["aux"],
        "path": path,
        "valid": _VALID[rec["kind"]],
    }


def pack_records(rows) -> bytes:
    """Ring-format bytes of ``rows``: (kind, key, pid, t_kernel, cgid, aux, path-or-None)."""
    out = bytearray()
    for kind, key, pid, t_kernel, cgid, aux, path in rows:
        body = b""
        plen = 0
        if path is not None:
            raw = path.encode("utf-8", "surrogateescape") if isinstance(path, str) else path
            raw = raw[:SB_PATH_MAX]
            plen = len(raw)
            body = raw.ljust(SB_PATH_MAX, b"\0")  # the kernel always sends the full array
        rec = _HEADER.pack(t_kernel, key, cgid, pid, pid, aux, kind, plen) + body
        out += struct.pack("<II", len(rec), 0) + rec + b"\0" * (-len(rec) % 8)
    return bytes(out)
