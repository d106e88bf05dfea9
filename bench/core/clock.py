"""The one clock of ground truth and events: nanoseconds of ``time.perf_counter_ns``.

On Linux it is CLOCK_MONOTONIC, the clock eBPF's ``bpf_ktime_get_ns`` and our
consumers stamp with. On Windows it is QueryPerformanceCounter, the clock an ETW session
stamps events with when it is opened with ClientContext = 1; there Python 3.11's
``time.monotonic`` is GetTickCount64, with 15.6 ms steps, which would blur every latency.
"""

from __future__ import annotations

import time

now_ns = time.perf_counter_ns
