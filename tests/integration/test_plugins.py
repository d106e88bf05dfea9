"""A backend from an installed package: a vendor's package declares it in the
``sensorbench.backends`` entry-point group, and sensorbench lists it, runs it (in its own
sensor process, which finds it the same way) and refuses to let it take a shipped name.

The package (tests/fixtures/plugin) is pip-installed, with its build isolated as any
package's, into a folder of its own on PYTHONPATH: installed for the processes these
tests start, and gone with the folder whatever happens to the test (installing into the
test venv itself would leave it there for every later test after a crash)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from tests.helpers import ROOT, sensorbench

PLUGIN = ROOT / "tests" / "fixtures" / "plugin"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    # built from a copy: a build leaves build/ and *.egg-info next to its sources
    src = tmp_path_factory.mktemp("src") / "plugin"
    shutil.copytree(PLUGIN, src)
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--disable-pip-version-check", "--target", str(site), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert list(site.glob("sensorbench_vendor_demo-*.dist-info/entry_points.txt"))
    return {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}


def test_installed_backend_is_listed_and_refused_a_shipped_name(env):
    r = sensorbench("list", env=env, check=True)
    assert "vendor_inotify" in r.stdout
    doc = json.loads(sensorbench("doctor", "--json", env=env, check=True).stdout)
    by_name = {b["name"]: b for b in doc["backends"]}
    assert by_name["vendor_inotify"]["available"] is True, by_name["vendor_inotify"]
    assert by_name["vendor_inotify"]["mechanism"].startswith("inotify (a vendor's package")
    # the shipped inotify stays ours; the package's claim on the name is shown, not taken
    assert by_name["inotify"]["mechanism"] == "inotify (directory watches)"
    shadow = by_name["inotify (sensorbench-vendor-demo)"]
    assert shadow["available"] is False and "ships with sensorbench" in shadow["reason"]
    # without the package, neither is there
    doc = json.loads(sensorbench("doctor", "--json", check=True).stdout)
    assert not {"vendor_inotify", "inotify (sensorbench-vendor-demo)"} & {
        b["name"] for b in doc["backends"]}


def test_installed_backend_runs(env, tmp_path):
    out = tmp_path / "r"
    sensorbench("run", "-b", "vendor_inotify", "-w", "file", "-r", "500", "-d", "0.5",
                "--no-baseline", "--no-report", "--out", str(out), env=env, check=True)
    cells = pd.read_csv(out / "cells.csv")
    assert (cells["backend"] == "vendor_inotify").all() and (cells["status"] == "ok").all(), \
        cells[["kind", "status", "reason"]]
    assert (cells["matched"] > 0).all() and cells["drop_rate"].max() < 0.01, cells
