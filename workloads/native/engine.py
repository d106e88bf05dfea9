"""Hand the workload process over to the native engine: exec ``sb-load``.

``python -m workloads`` has parsed the cell's settings and set the parent-death signal;
exec keeps that (and the pid the harness watches, and the descriptors it passed: the
ledger memfd, the tap) while the Python interpreter goes away before the first operation.
sb-load joins the cell's cgroup itself once it is set up (loaded, threads started, ledger
memory taken), just before "start": nothing of its start-up is the cell's. The settings go to sb-load on its stdin, one ``key value`` a
line, so the run marker is never in its command line (a sensor reporting argv would take
the workload for one of its operations).
"""

from __future__ import annotations

import json
import os
import sys
from typing import NoReturn

from workloads.native import child_program, load_missing, load_program


def config_text(values: dict) -> bytes:
    """sb-load's settings: ``key value`` lines (values are one line each)."""
    lines = []
    for key, value in values.items():
        if value is None:
            continue
        text = str(value)
        if "\n" in text:
            raise ValueError(f"{key} holds a newline: {text!r}")
        lines.append(f"{key} {text}")
    return ("\n".join(lines) + "\n").encode()


def exec_native(name: str, cfg: dict, *, rate: str, duration: float, marker: str,
                workdir: str, ledger_fd: int, tap_fd: int, arrivals: str, seed: int,
                cgroup: str | None, home_cgroup: str | None) -> NoReturn:
    """Replace this process with sb-load running workload ``name`` (settings ``cfg``)."""
    program = load_program()
    if program is None:
        sys.exit(f"workloads: {load_missing()}")
    if ledger_fd < 0:
        sys.exit("workloads: engine=native needs the harness's ledger memfd (--ledger-fd)")
    values = {
        "workload": name, "rate": rate, "duration": duration, "marker": marker,
        "workdir": workdir, "arrivals": arrivals, "seed": seed, "threads": cfg["threads"],
        "pin": int(bool(cfg["pin"])), "ledger_fd": ledger_fd,
        "tap_fd": tap_fd if tap_fd >= 0 else None, "cgroup": cgroup,
        "home_cgroup": home_cgroup if cgroup else None,   # to go back to after "done"
        "settings": json.dumps(cfg, default=str),
    }
    if name == "process":
        child = child_program()
        if child is None:
            sys.exit("workloads: sb-child could not be built: run `make native`")
        values.update(child=child, lifetime_us=int(cfg["lifetime_ms"] * 1000))
    if name == "network":
        values.update(protocols=cfg["protocols"])
    r, w = os.pipe()
    os.write(w, config_text(values))
    os.close(w)
    os.dup2(r, 0)
    os.close(r)
    sys.stdout.flush()
    os.execv(program, [program])
