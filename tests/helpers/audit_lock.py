"""A lock that keeps this machine's test sessions from using kernel audit at the same time.

Audit is one per host: two sessions running audit tests at once would see each other's
rules in their before/after snapshots. Tests that touch audit take this fixture first (so
before ``leaves_nothing`` takes its snapshot) and wait for each other.
"""

from __future__ import annotations

import fcntl
import os

import pytest

LOCK = "/run/sensorbench/audit-tests.lock"


@pytest.fixture
def audit_exclusive():
    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    fd = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits for another session's audit test
        yield
    finally:
        os.close(fd)
