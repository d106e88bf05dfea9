"""Latency histograms (bench.analysis.latency_hist): the HdrHistogram a plain recording of
every value gives, in its standard encoding, merged by adding, and percentiles that stay
within the stated precision (1/2048 of the value) of the raw latencies' own, on random
and on adversarial data."""

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram
from hypothesis import given, settings, strategies as st

from bench.analysis import latency_hist as lh
from bench.analysis.metrics import PERCENTILES

PS = [*PERCENTILES.values(), 100]
PRECISION = 1 / 2048   # each order statistic to half a bucket, a bucket 1/1024 of its value


def _within_precision(values, ps=PS):
    v = np.asarray(values, np.int64)
    got = lh.percentiles_ns(lh.build(v)[0], ps)
    want = np.percentile(v, ps)
    # the bound, plus float rounding of the interpolation
    assert np.all(np.abs(got - want) <= want * PRECISION + 1e-9 * np.maximum(want, 1)), \
        (got, want)
    return got, want


def _plain(values) -> HdrHistogram:
    """The histogram of recording each value, one call at a time."""
    h = HdrHistogram(lh.LOWEST_NS, lh.HIGHEST_NS, lh.DIGITS)
    for v in values:
        h.record_value(int(v))
    return h


_EDGES = np.unique(np.concatenate([
    np.arange(0, 4200), 2 ** np.arange(1, 42), 2 ** np.arange(1, 42) - 1,
    2 ** np.arange(1, 42) + 1, [lh.HIGHEST_NS - 1, lh.HIGHEST_NS],
    np.random.default_rng(0).integers(0, lh.HIGHEST_NS, 5000)]))


def test_values_round_down_to_their_buckets_lowest_value():
    h = lh.new()
    want = [h.get_lowest_equivalent_value(int(v)) for v in _EDGES]
    assert lh._bucket_floor(h, _EDGES).tolist() == want


def test_build_is_recording_every_value_one_by_one():
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.lognormal(10, 3, 3000).astype(np.int64), [0, 1, 2047, 2048]])
    h, outside = lh.build(v)
    assert outside == 0 and h.get_total_count() == len(v)
    # the same counts, so the same standard encoding, as the plain way
    assert lh.encode(h) == _plain(v).encode().decode()


def test_buckets_are_the_middles_and_counts_of_the_histograms_own():
    h = _plain(np.random.default_rng(2).lognormal(12, 2, 2000).astype(np.int64))
    middle, counts = lh.buckets(h)
    index = [i for i in range(h.counts_len) if h.get_count_at_index(i)]
    low = [h.get_value_from_index(i) for i in index]
    high = [h.get_highest_equivalent_value(v) for v in low]
    assert middle.tolist() == [(a + b) / 2 for a, b in zip(low, high)]
    assert counts.tolist() == [h.get_count_at_index(i) for i in index]
    assert counts.sum() == 2000


def test_buckets_read_a_histogram_of_another_tools_range():
    # decoded from elsewhere: counting from 1000 units up, the first bucket 512 units wide
    h = HdrHistogram(1000, 10**9, 2)
    for v in (1000, 5000, 123_456, 9 * 10**8):
        h.record_value(v)
    middle, _ = lh.buckets(h)
    low = [h.get_lowest_equivalent_value(v) for v in (1000, 5000, 123_456, 9 * 10**8)]
    high = [h.get_highest_equivalent_value(v) for v in low]
    assert middle.tolist() == [(a + b) / 2 for a, b in zip(low, high)]


def test_latencies_given_as_floats_count_as_their_whole_nanoseconds():
    v = [999.0, 4096.7, 1e9]
    assert lh.encode(lh.build(np.array(v))[0]) == lh.encode(lh.build([999, 4096, 10**9])[0])


def test_a_value_below_2048_ns_is_its_own_bucket():
    v = [0, 1, 7, 1000, 2047, 2047]
    middle, counts = lh.buckets(lh.build(v)[0])
    assert middle.tolist() == [0, 1, 7, 1000, 2047] and counts.tolist() == [1, 1, 1, 1, 2]
    assert lh.values(lh.build(v)[0]).tolist() == v


def test_values_outside_the_range_go_to_its_ends_and_are_counted():
    h, outside = lh.build(np.array([-5, 10, lh.HIGHEST_NS + 1, 2 * lh.HIGHEST_NS]))
    assert outside == 3 and h.get_total_count() == 4
    middle, counts = lh.buckets(h)
    assert middle[0] == 0 and counts.tolist() == [1, 1, 2]
    assert abs(middle[-1] - lh.HIGHEST_NS) <= lh.HIGHEST_NS * PRECISION
    assert lh.build(np.array([0, lh.HIGHEST_NS]))[1] == 0   # the ends themselves are in


def test_encoding_is_hdrhistograms_v2_and_decodes_to_the_same_counts():
    h, _ = lh.build(np.arange(1, 50_000, 7))
    text = lh.encode(h)
    assert isinstance(text, str) and text.startswith("HISTFAAA")   # V2 cookie, base64
    again = lh.decode(text)
    for a, b in zip(lh.buckets(again), lh.buckets(h)):
        assert a.tolist() == b.tolist()


def test_merged_histograms_are_the_histogram_of_all_the_values():
    rng = np.random.default_rng(3)
    parts = [rng.lognormal(11, s, n).astype(np.int64) for s, n in ((1, 500), (2, 3000), (0.1, 7))]
    merged = lh.merge(lh.encode(lh.build(p)[0]) for p in parts)
    whole = lh.build(np.concatenate(parts))[0]
    assert lh.encode(merged) == lh.encode(whole)


def test_no_values_have_no_percentiles():
    assert np.isnan(lh.percentiles_ns(lh.merge([]), PS)).all()
    assert np.isnan(lh.percentiles_ns(lh.build(np.empty(0, np.int64))[0], [50])).all()
    assert lh.values(lh.new()).tolist() == []


def test_percentiles_are_numpys_on_the_histograms_values():
    h, _ = lh.build(np.random.default_rng(4).pareto(1.2, 5000).astype(np.int64) * 1000 + 3)
    assert lh.percentiles_ns(h, PS) == pytest.approx(np.percentile(lh.values(h), PS),
                                                     rel=1e-12)


# -- within the stated precision of the raw latencies ---------------------------------------

@pytest.mark.parametrize("values", [
    [12345],                                    # one value
    [12345] * 1000,                             # one value, many times
    [0] * 10 + [lh.HIGHEST_NS] * 3,             # the two ends of the range
    [2047, 2048] * 500 + [4095, 4096] * 7,      # ties on bucket edges
    [1, 3_000_000_000_000],                     # two values twelve decades apart
    list(range(1, 1001)) + [10**12],            # one huge outlier: max and p99.9 apart
], ids=["one", "one-repeated", "range-ends", "edge-ties", "two-far", "outlier"])
def test_percentiles_within_precision_on_adversarial_data(values):
    _within_precision(values)


def test_percentiles_within_precision_on_heavy_tails():
    rng = np.random.default_rng(5)
    _within_precision((rng.pareto(0.7, 200_000) * 2000).clip(0, lh.HIGHEST_NS))   # no mean
    _within_precision(rng.lognormal(np.log(30_000), 2.5, 100_000))
    # the busiest cell in a second: 1.5 M latencies, a fat tail of delayed deliveries
    body = rng.gamma(4, 10_000, 1_500_000)
    _within_precision(np.concatenate([body, rng.uniform(1e6, 5e8, 3000)]),
                      [0, 1, 25, *PS])


@given(st.lists(st.integers(0, lh.HIGHEST_NS), min_size=1, max_size=300),
       st.lists(st.floats(0, 100), min_size=1, max_size=5))
@settings(max_examples=300)
def test_percentiles_within_precision_on_any_values(values, ps):
    _within_precision(values, ps)


@given(st.lists(st.sampled_from([0, 1, 2047, 2048, 2049, 10**6, 10**6 + 999, 10**9]),
                min_size=1, max_size=200))
@settings(max_examples=200)
def test_percentiles_within_precision_on_many_ties(values):
    _within_precision(values)
