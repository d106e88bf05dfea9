"""The sensor host's shutdown: once, however many ways it is asked for, and bounded in
time. These drive ``bench.harness.sensorhost`` directly, without the harness or its janitor (which
would otherwise clean up after a host that fails to)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import ROOT, Snapshot, needs_root
from tests.helpers.plugin_backends import PLUGINS


def _host(tmp_path, backend: str, settings: dict | None = None) -> subprocess.Popen:
    from bench.backends import REGISTRY, get

    defaults = ({k: s.default for k, s in get(backend).settings.items()}
                if backend in REGISTRY else {})  # plugins are registered in the host only
    cfg = {"backend": backend, "settings": defaults | (settings or {}),
           "ctx": {"marker": "sbhosttest", "workdir": str(tmp_path), "cgroup": None,
                   "results_dir": str(tmp_path)},
           "events": str(tmp_path / "events.npz"), "parent": os.getpid()}
    p = subprocess.Popen([sys.executable, "-m", "bench.harness.sensorhost", json.dumps(cfg)],
                         cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env={**os.environ, "SENSORBENCH_BACKENDS": PLUGINS})
    line = p.stdout.readline()
    assert json.loads(line or b"{}").get("ready"), line + p.stderr.read()
    return p


def _harness_dies(p: subprocess.Popen) -> None:
    """What a sensor host sees when the harness is killed: end of stdin, and one SIGTERM
    (PR_SET_PDEATHSIG) per harness thread that exits, arriving while it stops."""
    p.stdin.close()
    for _ in range(4):
        p.send_signal(signal.SIGTERM)
        time.sleep(0.002)


@needs_root
@pytest.mark.integration
def test_harness_death_stops_audit_once_and_restores_audit(tmp_path, audit_exclusive):
    from bench.backends import availability

    if availability("audit"):
        pytest.skip(f"audit: {availability('audit')}")
    before = Snapshot()
    p = _host(tmp_path, "audit")
    assert before.leftovers() != [], "the audit sensor changed nothing: not a test"
    t0 = time.monotonic()
    _harness_dies(p)
    code = p.wait(timeout=10)
    took = time.monotonic() - t0
    err = p.stderr.read().decode()
    assert took < 2.5 and code in (0, 128 + signal.SIGTERM), (code, took, err)
    assert "aborting" not in err, err   # stopped by itself, not by its watchdog
    assert before.leftovers() == []


@pytest.mark.parametrize("how", ["eof", "signals", "both"])
def test_host_stops_on_any_mix_of_eof_and_signals(tmp_path, how):
    p = _host(tmp_path, "psutil")
    if how == "eof":
        p.stdin.close()
    elif how == "signals":
        for _ in range(5):
            p.send_signal(signal.SIGTERM)
    else:
        _harness_dies(p)
    assert p.wait(timeout=5) in (0, 128 + signal.SIGTERM)
    assert (tmp_path / "events.npz").exists()  # a forced stop still hands over its events


def test_a_stop_that_hangs_is_ended_by_the_watchdog(tmp_path):
    from bench.harness.sensorhost import EXIT_WATCHDOG, FORCED_DEADLINE_S

    p = _host(tmp_path, "hangs")
    t0 = time.monotonic()
    _harness_dies(p)
    code = p.wait(timeout=15)
    took = time.monotonic() - t0
    assert code == EXIT_WATCHDOG, p.stderr.read().decode()
    assert FORCED_DEADLINE_S <= took < FORCED_DEADLINE_S + 1.5, took
    assert (tmp_path / "aborted").exists(), "abort() was not called"
