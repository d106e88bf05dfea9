"""The CLI as an unprivileged user: no traceback, the backends that need no privilege are
measured, every other one is a ``skipped`` row with its reason, and bad directories are one
line and exit 2.

Run from a root test with ``setpriv`` as ``nobody``. The user keeps one capability,
CAP_DAC_READ_SEARCH (read and search any directory, never write), only because this
machine's Python lives under /root (mode 0700): without it ``nobody`` cannot start the
interpreter at all. No backend's availability depends on it, and it lets no one write
where they could not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from tests.helpers import ROOT, needs_root

pytestmark = [needs_root, pytest.mark.skipif(not shutil.which("setpriv"),
                                             reason="setpriv (util-linux) not installed")]

NOBODY = 65534
UNPRIVILEGED = {"synthetic", "null_sensor", "psutil", "inotify"}


def _as_nobody(home, *args: str) -> subprocess.CompletedProcess:
    cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
           "--inh-caps=-all,+dac_read_search", "--ambient-caps=+dac_read_search",
           sys.executable, "-m", "bench.cli", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENSORBENCH_")}
    env.update(HOME=str(home), MPLCONFIGDIR=str(home / "mpl"), COLUMNS="200",
               SENSORBENCH_TEST_TAG=os.environ["SENSORBENCH_TEST_TAG"])
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "nobody"
    h.mkdir()
    os.chmod(h, 0o777)
    return h


def test_unprivileged_run_measures_what_it_can_and_skips_the_rest(home, leaves_nothing):
    from bench import backends
    from bench.harness import workdir

    workdir.prepare_base(None)  # root's own default work directory exists, owned by root
    specs = [n for n in backends.names() if backends.availability(n) is None]
    assert UNPRIVILEGED <= set(specs)
    r = _as_nobody(home, "run", "-b", ",".join(specs), "-w", "file,process", "-r", "300",
                   "-d", "0.5", "--no-baseline", "--no-report", "-o", str(home / "out"))
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 0, r.stderr[-3000:]
    cells = pd.read_csv(home / "out" / "cells.csv")
    status = cells.groupby("backend")["status"].agg(set).to_dict()
    measured = {b for b, s in status.items() if s & {"ok", "unsupported"}}
    assert measured == UNPRIVILEGED, status
    skipped = cells[~cells["backend"].isin(UNPRIVILEGED)]
    assert set(skipped["backend"]) == set(specs) - UNPRIVILEGED
    assert (skipped["status"] == "skipped").all()
    assert skipped["reason"].str.contains("root|CAP_").all(), \
        skipped.groupby("backend")["reason"].first()
    assert not (workdir.default_base().parent / f"sensorbench-{NOBODY}").exists(), \
        "the run left its work directory"


@pytest.mark.parametrize("where", ["--out", "--workdir"])
def test_unwritable_directory_is_one_line_before_any_cell(home, tmp_path, where):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o755)  # root's: nobody may read it but not write it
    out = str(locked / "out") if where == "--out" else str(home / "out")
    extra = ["--workdir", str(locked / "wd")] if where == "--workdir" else []
    r = _as_nobody(home, "run", "-b", "synthetic", "-w", "file", "-r", "300", "-d", "1",
                   "-o", out, *extra)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Permission denied" in lines[0], r.stderr
    assert not (home / "out" / "cells.csv").exists()


def test_default_work_directory_of_another_user_is_refused(home):
    from bench.harness import workdir

    theirs = workdir.default_base().parent / f"sensorbench-{NOBODY}"
    if theirs.exists():
        pytest.skip(f"{theirs} exists already")
    theirs.mkdir(mode=0o755)  # made by root, where nobody's would be
    try:
        r = _as_nobody(home, "run", "-b", "synthetic", "-w", "file", "-r", "300", "-d", "1",
                       "-o", str(home / "out"))
    finally:
        theirs.rmdir()
    assert r.returncode == 2 and "belongs to uid 0" in r.stderr, r.stderr
