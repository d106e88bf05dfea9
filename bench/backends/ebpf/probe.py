"""Can the eBPF sensor run here, and which hook types does this kernel accept?

``missing()`` answers without loading anything (platform, privileges, BTF, libbpf, build).
``hook_support()`` loads probe.bpf.o's empty programs one at a time, never attached, to
learn whether fentry, tp_btf and BPF-LSM programs are accepted; tracepoints and raw
tracepoints are what the default sensor uses, so they are proven by every cell itself.
"""

from __future__ import annotations

import ctypes
import os
import sys
from functools import cache
from pathlib import Path

from bench.backends.ebpf import libbpf as lb

BTF = Path("/sys/kernel/btf/vmlinux")
CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF = 21, 38, 39

# hooks= value -> probe program proving that hook type loads here
HOOK_PROBES = {"fentry": "probe_fentry", "lsm": "probe_lsm", "tp_btf": "probe_tp_btf"}


def _cap_eff() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


def missing(objects: tuple[Path, ...] | None = None) -> str | None:
    """One line naming what stops the sensor here, or None. ``objects``: the BPF object
    files needed (default: the sensor's)."""
    if not sys.platform.startswith("linux"):
        return "needs Linux (eBPF)"
    caps = _cap_eff()
    has = lambda c: bool(caps >> c & 1)  # noqa: E731
    if not (has(CAP_SYS_ADMIN) or (has(CAP_BPF) and has(CAP_PERFMON))):
        return "needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN) to load BPF programs"
    if not BTF.exists():
        return "kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot load"
    try:
        lb.libbpf()
    except OSError as e:
        return f"libbpf.so.1 not loadable ({e}); install libbpf1"
    for f in (*(objects or (lb.BPF_OBJECT,)), lb.SHIM):
        if not f.exists():
            return f"{f.name} not built: run `make` (needs clang, bpftool, libbpf-dev)"
    try:
        lb.shim()
    except OSError as e:
        return f"{lb.SHIM.name} not loadable ({e}); rebuild with make"
    return None


def _active_lsms() -> str:
    try:
        return Path("/sys/kernel/security/lsm").read_text().strip()
    except OSError:
        return ""


@cache
def hook_support() -> dict[str, str]:
    """hook type -> "ok" or one line saying why it is refused here."""
    out = {"tracepoint": "ok"}  # syscall tracepoints + raw tracepoints: every cell uses them
    why = missing()
    if why or not lb.PROBE_OBJECT.exists():
        reason = why or f"{lb.PROBE_OBJECT.name} not built"
        return {**out, **{h: f"not probed: {reason}" for h in HOOK_PROBES}}
    L = lb.libbpf()
    quiet = lb.shim()
    quiet.log_to(os.devnull.encode())  # a refused probe is an answer, not an error to print
    try:
        for hook, prog_name in HOOK_PROBES.items():
            obj = L.open_file(str(lb.PROBE_OBJECT).encode(), None)
            if not obj:
                out[hook] = f"cannot open probe object: {lb.errno_text(ctypes.get_errno())}"
                continue
            try:
                prog = L.next_program(obj, None)
                while prog:
                    L.set_autoload(prog, L.prog_name(prog).decode() == prog_name)
                    prog = L.next_program(obj, prog)
                ret = L.load(obj)
                if ret == 0:
                    out[hook] = "ok"
                else:
                    out[hook] = f"{hook} programs are refused by this kernel: load fails with " \
                                f"{lb.errno_text(ret)}"
                    lsms = _active_lsms()
                    if hook == "lsm" and not lsms:
                        out[hook] += "; active LSMs unknown (securityfs not mounted)"
                    elif hook == "lsm" and "bpf" not in lsms.split(","):
                        out[hook] += f"; 'bpf' is not an active LSM ({lsms})"
            finally:
                L.close(obj)
    finally:
        quiet.log_to(None)
    return out


# The syscalls the sensor's self-protection watches (protect=1, sensor.bpf.c).
GUARDED = ("kill", "tgkill", "ptrace", "bpf")


def protection(support: dict[str, str] | None = None) -> str:
    """One line: what self-protection this kernel permits the sensor. Its guards are
    syscall tracepoints like the rest of its programs (so they load wherever it does):
    they record an attempt on the sensor but cannot refuse it; refusing needs BPF-LSM."""
    support = support or hook_support()
    lsm = support.get("lsm", "not probed")
    block = ("and can refuse them (BPF-LSM loads here)" if lsm == "ok"
             else f"but cannot refuse them: BPF-LSM {lsm.split(': ', 1)[-1]}")
    return (f"self-protection: records {', '.join(GUARDED)} aimed at the sensor (syscall "
            f"tracepoints, protect=1) {block}")
