"""A cell's latencies of one kind as an HdrHistogram: built from an array, encoded into its
cells row, decoded and merged across repetitions (and machines), read as percentiles.

At 300 k operations a second a 5-second cell has 1.5 M latencies. The events file keeps
only a sample of them; the histogram keeps all of them in a fixed size, and histograms
add: the pooled percentiles of any set of cells are those of the sum of their histograms,
never an average of percentiles. It is stored in HdrHistogram's interchange format
(``encode``: the V2 encoding, zlib-compressed, base64), which every HdrHistogram library
reads, so other tools and other machines can merge it too.

Units, range and precision, and why:

- recorded in integer nanoseconds, the clock's unit and that of ``events.parquet``;
  percentiles come out in ns and are reported in µs, as every latency column is;
- from 1 ns to 1 hour (``HIGHEST_NS``): a cell lasts seconds and its drain minutes at
  most, so a latency beyond an hour is a broken clock, and one below 0 cannot be (an event
  matches an operation issued before it). A value outside is recorded at the nearest end
  and counted (``build``'s second result), never dropped and never an error;
- 3 significant digits (``DIGITS``): below 2,048 ns each nanosecond is a bucket of its
  own; above, a bucket is at most 1/1024 of its values wide, and a value is read back at
  its bucket's middle, within 1/2048 (0.05 %) of what was recorded. Far finer than what
  the clock and a cell's noise resolve, in 33,792 counters (a few kB encoded).

Percentiles are numpy's default (linear between the two order statistics around the
rank, as ``bench.analysis.metrics.percentiles_us`` computes them from raw latencies), each
order statistic read off the histogram, so a percentile of a histogram is within 1/2048 of
the one its raw latencies give.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from hdrh.histogram import HdrHistogram

LOWEST_NS = 1
HIGHEST_NS = 3600 * 10**9
DIGITS = 3
# a value read off the histogram (its bucket's middle) is within this share of the one
# recorded: 3 significant digits give 2048 sub-buckets a power of two
PRECISION = 1 / 2048


def new() -> HdrHistogram:
    """An empty histogram of the range and precision every latency histogram has."""
    return HdrHistogram(LOWEST_NS, HIGHEST_NS, DIGITS)


def build(latency_ns: np.ndarray) -> tuple[HdrHistogram, int]:
    """The histogram of ``latency_ns``, and how many of them lay outside its range
    (recorded at its nearest end). The values are counted per bucket in numpy first, so a
    million of them take one call per bucket holding any, not one per value."""
    h = new()
    v = np.asarray(latency_ns, dtype=np.int64)
    clipped = np.clip(v, 0, HIGHEST_NS)
    outside = int(np.count_nonzero(clipped != v))
    values, counts = np.unique(_bucket_floor(h, clipped), return_counts=True)
    for value, count in zip(values.tolist(), counts.tolist()):
        h.record_value(value, count)
    return h, outside


def _bucket_floor(h: HdrHistogram, v: np.ndarray) -> np.ndarray:
    """Each value rounded down to the lowest value of its bucket (the histogram's
    ``get_lowest_equivalent_value``, for an array): its bucket's width is
    ``2**(bit length of (v | sub_bucket_mask) - sub-bucket bits)``."""
    bits = np.frexp((v | h.sub_bucket_mask).astype(np.float64))[1]   # bit lengths: < 2**53
    shift = (bits - (h.sub_bucket_half_count_magnitude + 1)).astype(np.int64)
    return (v >> shift) << shift


def encode(h: HdrHistogram) -> str:
    return h.encode().decode("ascii")


def decode(text: str) -> HdrHistogram:
    return HdrHistogram.decode(text)


def merge(encoded: Iterable[str]) -> HdrHistogram:
    """The sum of encoded histograms (an empty one for none)."""
    total = new()
    for text in encoded:
        total.add(decode(text))
    return total


def buckets(h: HdrHistogram) -> tuple[np.ndarray, np.ndarray]:
    """The buckets that hold values, in order: each one's middle (ns) and count."""
    counts = np.ctypeslib.as_array(h.counts)[:h.counts_len]
    index = np.flatnonzero(counts)
    # the histogram's get_value_from_index and the width of the bucket at it, for arrays
    half = h.sub_bucket_half_count_magnitude
    bucket = (index >> half) - 1
    sub = (index & (h.sub_bucket_half_count - 1)) + h.sub_bucket_half_count
    first = bucket < 0
    sub[first] -= h.sub_bucket_half_count
    bucket[first] = 0
    shift = bucket + h.unit_magnitude
    low = sub << shift
    width = np.int64(1) << shift
    return low + (width - 1) / 2, counts[index].astype(np.int64)


def values(h: HdrHistogram) -> np.ndarray:
    """Every recorded value (ns) as its bucket's middle: the distribution as an array, for
    what needs one (order statistics, a summary's mean and spread)."""
    middle, counts = buckets(h)
    return np.repeat(middle, counts)


def percentiles_ns(h: HdrHistogram, ps: Iterable[float]) -> np.ndarray:
    """The ``ps`` percentiles (0-100) in ns, numpy's way: at position (n - 1) p / 100
    among the sorted values, linear between the two values around it. NaN for an empty
    histogram."""
    ps = np.asarray(list(ps))
    middle, counts = buckets(h)
    n = int(counts.sum())
    if n == 0:
        return np.full(len(ps), np.nan)
    pos = (n - 1) * ps / 100
    below, above = np.floor(pos), np.ceil(pos)
    # the k-th value (from 0) lies in the first bucket whose running count exceeds k
    ends = np.cumsum(counts)
    lo = middle[np.searchsorted(ends, below, "right")]
    hi = middle[np.searchsorted(ends, above, "right")]
    return lo + (pos - below) * (hi - lo)
