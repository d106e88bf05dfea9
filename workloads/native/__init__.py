"""Native helpers of the workloads: ``sb-child`` (the process workload's child) and
``sb-load`` (the native engine), built by ``make native``.

``sb-child`` is also built on first use when a C compiler exists (the Python engine needs
nothing else); ``sb-load`` only by ``make native``, so which engine a run uses never
depends on a compiler found halfway through it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHILD_SRC = HERE / "sb-child.c"
CHILD_BIN = HERE / "sb-child"
LOAD_BIN = HERE / "sb-load"
LOAD_SOURCES = ("sb-load.c", "sb-load.h", "ledger.c", "pacing.c", "load_file.c",
                "load_proc.c", "load_net.c")
MAKE_TARGET = "make native"

# The child's builds, fastest first: no C library (raw system calls, x86-64), static
# glibc, dynamic glibc (the Makefile tries the same).
CHILD_BUILDS = (["-DSB_NOLIBC", "-nostdlib", "-static", "-no-pie", "-fno-stack-protector",
                 "-fno-asynchronous-unwind-tables", "-s"], ["-static"], [])


def _fresh(binary: Path, sources) -> bool:
    if not binary.exists():
        return False
    built = binary.stat().st_mtime
    return all(built >= (HERE / s).stat().st_mtime for s in sources)


def child_program() -> str | None:
    """Path of the built sb-child, building it if needed; None when it cannot be built."""
    if _fresh(CHILD_BIN, ("sb-child.c",)):
        return str(CHILD_BIN)
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    tmp = CHILD_BIN.with_suffix(f".{os.getpid()}.tmp")
    for flags in CHILD_BUILDS:
        r = subprocess.run([cc, "-O2", *flags, "-o", str(tmp), str(CHILD_SRC)],
                           capture_output=True)
        if r.returncode == 0:
            os.replace(tmp, CHILD_BIN)
            return str(CHILD_BIN)
    return None


def load_program() -> str | None:
    """Path of sb-load when ``make native`` built it from the sources as they are."""
    return str(LOAD_BIN) if _fresh(LOAD_BIN, LOAD_SOURCES) else None


def load_missing() -> str | None:
    """Why the native engine cannot run here (one line naming the make target), or None."""
    if load_program() is not None:
        return None
    if LOAD_BIN.exists():
        return f"the native engine (sb-load) is older than its sources: run `{MAKE_TARGET}`"
    return f"the native engine (sb-load) is not built: run `{MAKE_TARGET}`"
