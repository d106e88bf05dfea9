"""The fixtures every test module may ask for (``conftest.py`` re-exports them)."""

from __future__ import annotations

import pytest

from tests.helpers.audit_lock import audit_exclusive  # noqa: F401  (fixture)
from tests.helpers.leaks import Snapshot


@pytest.fixture
def leaves_nothing():
    """Fail the test if it leaves a BPF program, audit change, mount, cgroup or process of
    ours behind (waiting up to 5 s: programs and processes take a moment to go)."""
    snap = Snapshot()
    yield snap
    _, left = snap.wait_clean(5.0)
    assert left == [], "left behind: " + "; ".join(left)


@pytest.fixture
def ten_ms_ticks(monkeypatch):
    """A process tree's CPU resolution pinned to two 10 ms ticks (USER_HZ 100), so that
    intervals widened by it can be worked out by hand on any machine."""
    from bench.core import cpu

    monkeypatch.setattr(cpu, "TREE_RESOLUTION_S", 0.02)
    monkeypatch.setitem(cpu.RESOLUTION_S, "process tree", 0.02)
