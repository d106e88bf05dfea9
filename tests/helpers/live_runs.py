"""Real cells that tests of more than one module read, run once per test session.

``audit_defaults()``: the audit backend at its defaults (``parser=c``) on the file, process
and network workloads at 1000 ops/s for 1 s, no baseline. test_usermode_cells checks every
kind audit supports at its defaults on it; test_audit_fastpath_live the C reader's exact
counts and counters on its file and network cells (the same cells it used to run again as
``audit:parser=c``). The run is made inside whichever of those tests asks first, so under
that test's ``audit_exclusive`` and ``leaves_nothing``: nothing it leaves goes unseen.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from tests.helpers import run_cells

_DONE: dict[str, tuple[Path, pd.DataFrame]] = {}

AUDIT_DEFAULTS = ("-b", "audit", "-w", "file,process,network", "-r", "1000", "-d", "1",
                  "--no-baseline")


def audit_defaults() -> tuple[Path, pd.DataFrame]:
    """(results folder, cells.csv) of the shared audit run (made on first use)."""
    if "audit" not in _DONE:
        tmp = Path(tempfile.mkdtemp(prefix="sb-live-audit-"))
        atexit.register(shutil.rmtree, tmp, True)
        cells = run_cells(tmp, *AUDIT_DEFAULTS)
        _DONE["audit"] = (tmp / "results", cells)
    folder, cells = _DONE["audit"]
    return folder, cells.copy()
