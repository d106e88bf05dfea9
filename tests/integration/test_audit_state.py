"""The host's audit configuration is the same after an audit cell as before: rules (byte
for byte, in order, including a host rule of someone else's), enabled flag, failure mode,
limits and audit pid; also after the sensor is killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.helpers import ROOT, needs_root, run_cells

pytestmark = needs_root


@pytest.fixture
def audit(audit_exclusive):
    from bench.backends.audit import AuditBackend, state

    why = AuditBackend.available()
    if why:
        pytest.skip(why)
    return state


@pytest.fixture
def host_rule(audit):
    """A rule the host had before we came (someone else's): it must survive untouched."""
    from bench.backends.audit import rules
    from bench.backends.audit.netlink import AuditConn

    arch, table = rules.machine_table()
    rule = rules.encode([table["openat"]], arch, "sbtest-host", directory="/var/tmp/sb-host")
    os.makedirs("/var/tmp/sb-host", exist_ok=True)
    with AuditConn() as c:
        c.add_rule(rule)
    yield rule
    with AuditConn() as c:
        c.del_rule(rule)
    os.rmdir("/var/tmp/sb-host")


def test_state_after_a_cell_equals_state_before(tmp_path, audit, host_rule, leaves_nothing):
    before = audit.save()
    assert host_rule in before.rules
    cells = run_cells(tmp_path, "-b", "audit:backlog_limit=4096,rate_limit=0", "-w", "file",
                      "-r", "500", "-d", "1", "--no-baseline")
    assert (cells[cells["status"] != "unsupported"]["status"] == "ok").all(), cells["reason"]
    assert audit.save() == before
    assert not os.path.exists(audit.STATE_FILE)


def test_sigkill_of_the_sensor_is_undone_by_the_next_start(tmp_path, audit, leaves_nothing):
    from bench.backends.audit import AuditBackend, rules

    before = audit.save()
    cfg = {"backend": "audit",
           "settings": {k: s.default for k, s in AuditBackend.settings.items()}
           | {"backlog_limit": 1234},
           "ctx": {"marker": "sbkill", "workdir": str(tmp_path)},
           "events": str(tmp_path / "ev.npz")}
    p = subprocess.Popen([sys.executable, "-m", "bench.harness.sensorhost", json.dumps(cfg)], cwd=ROOT,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert b"ready" in p.stdout.readline()
        during = audit.save()
        assert during.backlog_limit == 1234 and during.pid == p.pid and during.enabled == 1
        assert len(during.rules) == len(before.rules) + len(rules.sensor_rules("k", "/"))
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        p.stdin.close()
    assert os.path.exists(audit.STATE_FILE)  # what the dead sensor saved
    assert AuditBackend.available() is None  # ... is restored by the next start
    assert audit.save() == before
    assert not os.path.exists(audit.STATE_FILE)


def test_a_second_claim_is_refused_while_one_is_held(audit):
    c = audit.claim()
    try:
        from bench.backends.audit import AuditBackend

        assert "in use" in AuditBackend.available()
    finally:
        c.release()


def test_panic_failure_mode_is_refused():
    r = subprocess.run([sys.executable, "-m", "bench.cli", "run", "-b", "audit:failure=2",
                        "-w", "file", "-d", "1"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "panic" in (r.stdout + r.stderr)
    assert "Traceback" not in r.stderr
