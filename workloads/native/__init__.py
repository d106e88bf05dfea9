"""Native helpers of the workloads, built by ``make`` (or on first use when a C compiler exists)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD_SRC = HERE / "sb-child.c"
CHILD_BIN = HERE / "sb-child"


def child_program() -> str | None:
    """Path of the built sb-child, building it if needed; None when it cannot be built."""
    if CHILD_BIN.exists() and CHILD_BIN.stat().st_mtime >= CHILD_SRC.stat().st_mtime:
        return str(CHILD_BIN)
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    tmp = CHILD_BIN.with_suffix(f".{os.getpid()}.tmp")
    for flags in (["-static"], []):  # static when libc.a is there, dynamic otherwise
        r = subprocess.run([cc, "-O2", *flags, "-o", str(tmp), str(CHILD_SRC)],
                           capture_output=True)
        if r.returncode == 0:
            os.replace(tmp, CHILD_BIN)
            return str(CHILD_BIN)
    return None
