"""The platform split holds: with the platform reported as Windows, the CLI, the backend
registry and ``doctor`` import and run without touching a Linux-only module; on Linux,
``doctor`` lists the Windows backends as unavailable, "Windows only"."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# Run in a fresh interpreter: sys.platform is patched before bench is imported, and a
# finder refuses every Linux-only module (stdlib ones included) from then on. Third-party
# libraries are imported first, as they are: they pick their platform code themselves.
SCRIPT = textwrap.dedent(r"""
    import importlib.abc, json, sys
    import numpy, pandas, psutil, rich, rich.console, typer, typer.testing, matplotlib  # noqa: F401
    LINUX_ONLY = ("fcntl", "termios", "resource", "pwd", "grp",
                  "bench.core._linux", "bench.harness.cgroup",
                  "bench.backends._native", "bench.backends._batch", "bench.backends._netlink",
                  "bench.backends.ebpf", "bench.backends.audit", "bench.backends.fanotify",
                  "bench.backends.inotify", "bench.backends.proc_connector",
                  "bench.backends.peers")
    hits = []

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if any(name == m or name.startswith(m + ".") for m in LINUX_ONLY):
                hits.append(name)
                raise ImportError(f"{name} is Linux only")
            return None

    for m in list(sys.modules):
        if m in LINUX_ONLY[:5]:
            del sys.modules[m]        # third parties keep their reference; we may not
    sys.platform = "win32"
    sys.meta_path.insert(0, Refuse())

    from typer.testing import CliRunner
    import bench.cli
    from bench import backends
    r = CliRunner().invoke(bench.cli.app, ["doctor", "--json"])
    doctor = json.loads(r.stdout) if r.exit_code == 0 else None
    import bench.harness.runner, bench.harness.cell, bench.harness.sensorhost  # noqa: F401
    import bench.backends.etw, bench.backends.sysmon, workloads.process  # noqa: F401
    print(json.dumps({"hits": hits, "exit": r.exit_code, "out": r.stdout[-2000:],
                      "doctor": doctor,
                      "linux_loaded": sorted(m for m in sys.modules
                                             if any(m == x or m.startswith(x + ".")
                                                    for x in LINUX_ONLY[5:]))}))
""")


@pytest.fixture(scope="module")
def as_windows():
    p = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_nothing_linux_only_is_imported_on_windows(as_windows):
    assert as_windows["hits"] == [], as_windows["hits"]
    assert as_windows["linux_loaded"] == []


def test_doctor_runs_on_windows_and_says_why_each_backend_cannot(as_windows):
    assert as_windows["exit"] == 0, as_windows["out"]
    rows = {r["name"]: r for r in as_windows["doctor"]["backends"]}
    assert rows["ebpf"]["reason"] == "Linux only" and not rows["ebpf"]["available"]
    assert rows["auditd"]["reason"] == "Linux only"
    # not elevated here (and no Windows): said in one line, not a crash
    for name in ("etw", "sysmon"):
        assert not rows[name]["available"]
        assert rows[name]["reason"] and "Linux only" not in rows[name]["reason"]
        assert rows[name]["mode"] in ("user", "kernel")
    assert rows["synthetic"]["reason"] == rows["null_sensor"]["reason"] == "Linux only"
    assert rows["psutil"]["available"], rows["psutil"]
    # no native engine there, and the generators are not run from a pretend Windows
    gen = as_windows["doctor"]["generators"]
    assert gen["note"] == "not measured on Windows" and gen["native_engine"] != "built"


@pytest.mark.windows
def test_doctor_here_lists_the_windows_backends_as_windows_only():
    from typer.testing import CliRunner

    import bench.cli

    # (the generator's ceiling runs workloads: tests/integration/test_native_engine.py)
    r = CliRunner().invoke(bench.cli.app, ["doctor", "--json", "--no-ceiling"])
    assert r.exit_code == 0, r.stdout
    rows = {x["name"]: x for x in json.loads(r.stdout)["backends"]}
    if sys.platform == "win32":
        assert rows["ebpf"]["reason"] == "Linux only"
    else:
        for name in ("etw", "sysmon"):
            assert rows[name] == {"name": name, "mode": "-", "mechanism": "-", "kinds": [],
                                  "available": False, "reason": "Windows only", "notes": []}


def test_asking_for_a_windows_backend_here_is_one_line_and_exit_2(tmp_path):
    if sys.platform == "win32":
        pytest.skip("the backend is of this platform")
    p = subprocess.run([sys.executable, "-m", "bench.cli", "run", "-b", "etw", "-w", "file",
                        "--no-baseline", "-n", "1", "-d", "0.2", "--out", str(tmp_path / "r")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "etw" in p.stderr and "Windows only" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
