"""Failure scenarios on the real kernel: known truths about crashes and stalls.

- A crash's blind window, read off the events the sensor delivered, is the kill-to-ready
  time the harness measured (within 10 ms).
- An audit consumer that stops reading, with ``backlog_wait_time`` > 0, holds the
  workload's syscalls (host impact, little loss); with ``backlog_wait_time=0`` the kernel
  drops records instead, and audit's own ``lost`` counter says so.
- Nothing is left behind, although the scenario killed things on purpose.
"""

from __future__ import annotations

import pandas as pd
import pytest

from tests.helpers import needs_root, sensorbench

pytestmark = needs_root


def _skip_unavailable(*names):
    from bench.backends import availability

    for n in names:
        why = availability(n)
        if why:
            pytest.skip(f"{n}: {why}")


def _scenario(tmp_path, *args) -> pd.DataFrame:
    out = tmp_path / "results"
    sensorbench("scenario", *args, "--out", str(out), "--no-report", check=True)
    df = pd.read_csv(out / "scenarios.csv", keep_default_na=False, na_values=[""])
    cells = pd.read_csv(out / "cells.csv")
    assert set(cells["scenario"].dropna()) <= {args[0]}
    return df


@pytest.mark.parametrize("backend,workload", [("inotify", "file"),
                                              ("proc_connector", "process")])
def test_crash_blind_window_is_the_kill_to_ready_time(tmp_path, leaves_nothing, backend,
                                                      workload):
    _skip_unavailable(backend)
    df = _scenario(tmp_path, "crash", "-b", backend, "-w", workload, "-d", "3", "--at", "1")
    r = df.iloc[0]
    assert r["outcome"] == "sensor-crashed" and r["target"] == "consumer", r.to_dict()
    assert r["down_ms"] > 0 and r["events_lost_in_window"] > 0
    assert abs(r["blind_ms"] - r["down_ms"]) <= 10.0, r[["blind_ms", "down_ms"]].to_dict()
    # the sensor came back: what was issued after it was back is seen again
    assert r["recovered_ms"] == r["recovered_ms"] and r["recovered_ms"] < 50
    assert pd.isna(r["leftovers"]), r["leftovers"]


def test_crash_of_a_tool_kills_the_tool_not_our_adapter(tmp_path, leaves_nothing):
    _skip_unavailable("fatrace")
    df = _scenario(tmp_path, "crash", "-b", "fatrace", "-d", "3", "--at", "1")
    r = df.iloc[0]
    assert r["target"] == "tool" and r["outcome"] == "sensor-crashed", r.to_dict()
    assert r["events_lost_in_window"] > 0 and r["blind_ms"] > 0
    assert pd.isna(r["leftovers"]), r["leftovers"]


def test_audit_crash_leaves_its_rules_in_the_kernel_while_down(tmp_path, audit_exclusive,
                                                                leaves_nothing):
    _skip_unavailable("audit")
    df = _scenario(tmp_path, "crash", "-b", "audit", "-d", "3", "--at", "1")
    r = df.iloc[0]
    assert "audit rule" in r["kernel_while_down"], r.to_dict()
    assert pd.isna(r["leftovers"]), r["leftovers"]


def test_audit_stall_is_backpressure_with_backlog_wait_and_loss_without(
        tmp_path, audit_exclusive, leaves_nothing):
    _skip_unavailable("audit")
    small = "audit:backlog_limit=64,rcvbuf_kb=16"
    df = _scenario(tmp_path, "stall", "-b", f"{small},{small},backlog_wait_time=0",
                   "-w", "file", "-d", "4", "--at", "1", "--for", "1.5")
    waits, drops = df.iloc[0], df.iloc[1]
    assert waits["spec"] == small
    # backlog_wait_time > 0: the syscalls wait for room; the workload is held, not robbed
    assert waits["outcome"] == "host-impact", waits.to_dict()
    assert waits["workload_stall_ms"] > 1000
    assert waits["events_lost"] <= 0.05 * waits["events_expected"]
    # backlog_wait_time = 0: the workload runs on; the kernel drops records and counts them
    assert drops["outcome"] == "degraded", drops.to_dict()
    assert drops["workload_stall_ms"] < 100
    assert drops["events_lost"] > 300
    assert drops["self_reported_lost"] >= 0.5 * drops["events_lost"]
    assert pd.isna(waits["leftovers"]) and pd.isna(drops["leftovers"])


def test_bad_scenario_input_is_one_line_and_exit_2(tmp_path):
    for args in (["nosuch"], ["crash", "--at", "9", "-d", "3"], ["stall", "--for", "0"],
                 ["crash", "-r", "max"], ["crash", "--restart-ms", "-1"]):
        r = sensorbench("scenario", *args, "--out", str(tmp_path / "x"))
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
