"""64-bit hashes of many strings at once, without a Python step per string.

Correlation keys file events by their path, and a cell at a high rate has a million of
them: hashing each in Python, or through pandas' per-object hash, took most of a second.
Here the strings are encoded once (pyarrow: one UTF-8 buffer and the offsets into it) and
hashed eight bytes at a time, all strings together: the h of a string starts from its
length in bytes, and each 8-byte little-endian word of it, the last one zero-filled, is
folded in with ``h = mix(h ^ word)`` (splitmix64's finalizer, a bijection). A string's
hash depends on its bytes alone, not on the others hashed with it, so two calls (the
ledger's paths, the events' paths) agree. It is not a cryptographic hash: two keys collide
with a probability near 2**-64, as with the hash it replaced.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

# keeps the first ``i`` bytes of a little-endian word (the rest belong to the next string)
_LOW_BYTES = np.array([(1 << (8 * i)) - 1 for i in range(8)] + [2**64 - 1], np.uint64)
_SEED = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> None:
    """splitmix64's finalizer, in place: every input bit moves every output bit."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)   # unsigned array arithmetic wraps, silently
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)


def hash_strings(values) -> tuple[np.ndarray, np.ndarray]:
    """(hash, missing) of each element: a uint64 per string, and True where the element
    is None or NaN (its hash is 0)."""
    arr = pa.array(values, type=pa.large_string(), from_pandas=True)
    missing = np.asarray(arr.is_null())
    _, offsets, data = arr.buffers()
    off = np.frombuffer(offsets, np.int64, len(arr) + 1)   # a new array's: from the start
    length = np.diff(off)
    h = length.astype(np.uint64)
    h ^= _SEED
    _mix(h)
    # the strings still being hashed: their rows, their hashes so far, where their next
    # word starts and how many of their bytes are left from there (rows stay in order, so
    # the words they start at go up)
    rows = np.flatnonzero(length > 0)
    if len(rows):
        buf = np.frombuffer(data, np.uint8)
        if len(buf) < 8:
            buf = np.concatenate([buf, np.zeros(8, np.uint8)])
        words = _Words(buf)
        hr, at, left = h[rows], off[:-1][rows], length[rows]
        while len(rows):
            x = words.at(at)
            if left.min() < 8:
                x &= _LOW_BYTES[np.minimum(left, 8)]
            hr ^= x
            _mix(hr)
            at += 8
            left -= 8
            done = left <= 0
            if done.any():   # a string whose last word this was leaves
                h[rows[done]] = hr[done]
                going = ~done
                rows, hr, at, left = rows[going], hr[going], at[going], left[going]
    h[missing] = 0
    return h, missing


class _Words:
    """The little-endian 8-byte word starting at any byte of a buffer, bytes past its end
    read as zeros: a view of the buffer (no copy) where every byte starts a word, the
    words overlapping and unaligned."""

    def __init__(self, buf: np.ndarray):
        self.last = len(buf) - 8   # the last byte a whole word starts at
        # gathered as 8-byte blobs (void), which numpy copies faster than unaligned
        # integers, then read as the integers they are
        self.view = np.ndarray((self.last + 1,), "V8", buf, strides=(1,))

    def at(self, pos: np.ndarray) -> np.ndarray:
        """The words at ``pos`` (ascending)."""
        k = int(np.searchsorted(pos, self.last, "right"))
        words = self.view[pos[:k]].view("<u8")
        if k == len(pos):
            return words
        # the few that run past the end: the buffer's last word, shifted down
        last = self.view[self.last:].view("<u8")
        return np.concatenate([words, last >> ((pos[k:] - self.last) * 8).astype(np.uint64)])
