"""`make`'s set-up never weakens the host: a running audit daemon is left alone, and only
the one our own package install started is stopped. The recipe runs for real, against
stand-ins for apt-get, dpkg, pidof and systemctl that record what was asked of them; the
audit backends' refusal names the holder and how to free it."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from bench.backends.audit._linux import holder_refusal
from tests.helpers import ROOT

STUBS = {
    "id": 'echo 0',
    "dpkg": '[ "$1" = -s ] && grep -qx "$2" "$STATE/installed"',
    "apt-get": '''echo "apt-get $*" >> "$STATE/calls"
for a in "$@"; do case "$a" in
  -*|update|install) ;;
  *) echo "$a" >> "$STATE/installed"
     if [ "$a" = auditd ] && [ -f "$STATE/install-starts-auditd" ]; then touch "$STATE/running"; fi;;
esac; done''',
    "pidof": '[ "$1" = auditd ] && [ -f "$STATE/running" ] && echo 4242',
    "systemctl": '''echo "systemctl $*" >> "$STATE/calls"
case "$*" in *auditd*) case "$*" in *stop*|*--now*) rm -f "$STATE/running";; esac;; esac''',
    "service": '''echo "service $*" >> "$STATE/calls"
case "$*" in *"auditd stop"*) rm -f "$STATE/running";; esac''',
}

needs_make = pytest.mark.skipif(not shutil.which("make"), reason="needs make")


def _set_up(tmp_path, installed: list[str], running: bool, install_starts: bool,
            packages: str) -> tuple[str, list[str]]:
    """Run the set-up's system-packages step; the calls made, and the daemon's state."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for name, body in STUBS.items():
        p = bin_dir / name
        p.write_text("#!/bin/sh\n" + body + "\n")
        p.chmod(0o755)
    (state / "installed").write_text("".join(f"{p}\n" for p in installed))
    (state / "calls").write_text("")
    if running:
        (state / "running").touch()
    if install_starts:
        (state / "install-starts-auditd").touch()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STATE": str(state)}
    r = subprocess.run(["make", "--no-print-directory", "-f", str(ROOT / "Makefile"),
                        "system-packages", f"VENV={tmp_path / 'venv'}",
                        f"DEB_PACKAGES={packages}"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    calls = (state / "calls").read_text().splitlines()
    return ("running" if (state / "running").exists() else "stopped"), calls


@needs_make
def test_a_running_host_auditd_is_left_running(tmp_path):
    # the host's security service was up; we install another package
    daemon, calls = _set_up(tmp_path, ["auditd"], running=True, install_starts=False,
                            packages="auditd fatrace")
    assert daemon == "running"
    assert "apt-get install -y -qq --no-install-recommends fatrace" in calls
    assert not [c for c in calls if "auditd" in c and not c.startswith("apt-get")], calls


@needs_make
def test_nothing_to_install_touches_no_service(tmp_path):
    daemon, calls = _set_up(tmp_path, ["auditd"], running=False, install_starts=False,
                            packages="auditd")
    assert daemon == "stopped" and calls == []


@needs_make
def test_the_auditd_our_install_started_is_stopped(tmp_path):
    daemon, calls = _set_up(tmp_path, [], running=False, install_starts=True,
                            packages="auditd fatrace")
    assert daemon == "stopped"
    assert "systemctl disable --now auditd" in calls


@needs_make
def test_an_installed_but_stopped_auditd_is_not_disabled(tmp_path):
    # auditd was installed and stopped by its owner; installing something else leaves it so
    daemon, calls = _set_up(tmp_path, ["auditd"], running=False, install_starts=True,
                            packages="auditd fatrace")
    assert daemon == "stopped"
    assert [c for c in calls if not c.startswith("apt-get")] == []


def test_refusal_names_the_holder_and_how_to_free_it():
    held = holder_refusal(812, 1, None, name_of=lambda pid: "auditd")
    assert "held by auditd (pid 812)" in held and "systemctl stop auditd" in held
    running = holder_refusal(0, 0, 812)
    assert "auditd (pid 812) is running" in running and "systemctl stop auditd" in running
    # a registered holder wins over a process merely named auditd
    assert "held by go-audit (pid 77)" in holder_refusal(77, 1, 812, name_of=lambda p: "go-audit")
    assert "locked" in holder_refusal(0, 2, None)
    assert holder_refusal(0, 1, None) is None
    assert holder_refusal(0, 0, None) is None
