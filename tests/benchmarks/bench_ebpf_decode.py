"""Kept benchmark: the ebpf consumer's decode rate (target >= 1,000,000 events/s).

200,000 synthetic records in ring format (half with a path, as file and exec events carry,
half header-only, as process and network events) go through ring.c's own record callback
(sb_feed), the numpy decode and the sink, which is the path every real record takes after
libbpf hands it over. Run with ``pytest tests/benchmarks/bench_ebpf_decode.py --benchmark-only``.
"""

import pytest

from bench.core.events import EventSink

ebpf_lib = pytest.importorskip("bench.backends.ebpf.libbpf")
from bench.backends.ebpf.decode import pack_records  # noqa: E402

N = 200_000
TARGET = 1_000_000  # events/s


@pytest.fixture(scope="module")
def raw():
    rows = []
    for i in range(N):
        kind = (1, 5, 2, 8, 3, 9, 4, 10, 6, 7)[i % 10]
        path = f"/var/tmp/sensorbench/sb1234abcd/sb1234abcd-{i:07d}.new" \
            if kind in (1, 2, 3, 4, 6) else None
        rows.append((kind, 0 if path else 100_000 + i, 4242, 10**12 + i, 77, 0, path))
    return pack_records(rows)


def test_decode_rate(benchmark, raw):
    if not ebpf_lib.SHIM.exists():
        pytest.skip("libsbring.so not built (make -C bench/backends/ebpf)")
    from bench.backends.ebpf.consumer import Consumer

    def run():
        sink = EventSink()
        c = Consumer(ebpf_lib.shim(), -1, sink, None)
        try:
            return c.feed(raw)
        finally:
            c.close()

    n = benchmark(run)
    assert n == N
    rate = N / benchmark.stats.stats.mean
    benchmark.extra_info["events_per_s"] = rate
    print(f"\nebpf decode: {rate:,.0f} events/s (target {TARGET:,})")
    assert rate >= TARGET, f"decode {rate:,.0f} events/s is below {TARGET:,}"
