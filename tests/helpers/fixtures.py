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
