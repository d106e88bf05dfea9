"""The leave-nothing-behind check itself: it must fail a test that leaves something of ours
running, and it must look for the tag every process of this session really carries."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.helpers import TEST_TAG, sensor_processes

INNER = """
import subprocess, sys

LEFT = []

def test_leaves_a_process(leaves_nothing):
    LEFT.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
"""


def test_the_tag_checked_is_the_tag_children_get():
    assert os.environ["SENSORBENCH_TEST_TAG"] == TEST_TAG
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 5
        while not sensor_processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any(str(p.pid) in line for line in sensor_processes())
    finally:
        p.kill()
        p.wait()
    assert sensor_processes() == []


def test_fixture_fails_a_test_that_leaves_a_process(pytester):
    pytester.makeconftest("from tests.helpers.fixtures import leaves_nothing  # noqa: F401\n")
    pytester.makepyfile(test_inner=INNER)
    r = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q",
                                     "--rootdir", str(pytester.path))
    try:
        r.assert_outcomes(passed=1, errors=1)  # the test body passes; its teardown errors
        assert "processes left" in r.stdout.str()
    finally:
        for line in sensor_processes():
            pid = int(line.split()[0])
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while sensor_processes() and time.monotonic() < deadline:
            time.sleep(0.05)
