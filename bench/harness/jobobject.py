"""Job Objects for cells on Windows: what ``cgroup.py`` is on Linux.

A cell's workload, and its sensor host, each run in a job named
``Local\\sensorbench-<harness pid>-<token>[-sensor]``. The harness creates it and holds the
only long-lived handle, with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE: when the harness closes it,
or dies and the kernel closes it, every process in the job ends. So a killed run leaves no
process behind and there is no stale job to clean at the next start (``clean_stale``
finds none), which is what cgroups needed the janitor for. The child joins by name
(``osapi.join_group``) before it starts anything.

CPU comes from QueryInformationJobObject(JobObjectBasicAccountingInformation): user plus
kernel time of every process that ran in the job, in 100 ns units, the same quantity as a
cgroup's ``usage_usec``. Only ``ctypes.Structure`` layouts are built at import, so the
module imports (and its layouts can be checked) on any platform.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import c_int64, c_size_t, c_uint32, c_uint64

from bench.core import cpu
from bench.core._windows import JOB_OBJECT_QUERY, JOB_OBJECT_TERMINATE, kernel32

PARENT = "sensorbench"
_JOB_QUERY_AND_TERMINATE = JOB_OBJECT_QUERY | JOB_OBJECT_TERMINATE
_BASIC_ACCOUNTING = 1         # JOBOBJECTINFOCLASS JobObjectBasicAccountingInformation
_EXTENDED_LIMIT = 9           # JobObjectExtendedLimitInformation
KILL_ON_JOB_CLOSE = 0x2000    # JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE


class BasicAccounting(ctypes.Structure):
    """JOBOBJECT_BASIC_ACCOUNTING_INFORMATION (48 bytes)."""

    _fields_ = [("TotalUserTime", c_int64), ("TotalKernelTime", c_int64),
                ("ThisPeriodTotalUserTime", c_int64), ("ThisPeriodTotalKernelTime", c_int64),
                ("TotalPageFaultCount", c_uint32), ("TotalProcesses", c_uint32),
                ("ActiveProcesses", c_uint32), ("TotalTerminatedProcesses", c_uint32)]


class _BasicLimit(ctypes.Structure):
    """JOBOBJECT_BASIC_LIMIT_INFORMATION (64 bytes on 64-bit Windows)."""

    _fields_ = [("PerProcessUserTimeLimit", c_int64), ("PerJobUserTimeLimit", c_int64),
                ("LimitFlags", c_uint32), ("MinimumWorkingSetSize", c_size_t),
                ("MaximumWorkingSetSize", c_size_t), ("ActiveProcessLimit", c_uint32),
                ("Affinity", c_size_t), ("PriorityClass", c_uint32),
                ("SchedulingClass", c_uint32)]


class _IoCounters(ctypes.Structure):
    _fields_ = [(n, c_uint64) for n in ("ReadOperationCount", "WriteOperationCount",
                                        "OtherOperationCount", "ReadTransferCount",
                                        "WriteTransferCount", "OtherTransferCount")]


class ExtendedLimit(ctypes.Structure):
    """JOBOBJECT_EXTENDED_LIMIT_INFORMATION (144 bytes on 64-bit Windows)."""

    _fields_ = [("BasicLimitInformation", _BasicLimit), ("IoInfo", _IoCounters),
                ("ProcessMemoryLimit", c_size_t), ("JobMemoryLimit", c_size_t),
                ("PeakProcessMemoryUsed", c_size_t), ("PeakJobMemoryUsed", c_size_t)]


RESOLUTION_S = cpu.RESOLUTION_S["job object"]   # how far a difference of two readings can be off


def cpu_us(acct: BasicAccounting) -> int:
    """User + kernel time of the job, µs (the structure counts 100 ns units)."""
    return (acct.TotalUserTime + acct.TotalKernelTime) // 10


# name -> handle, for the jobs this process made (the harness reads CPU by name, as it
# reads a cgroup by path)
_OWN: dict[str, int] = {}


def usage_us(name: str | None) -> int | None:
    """CPU (µs) the job's processes have used so far; None without a job or when it
    cannot be read (a ``<name>\\tool`` sub-job is never made: tools count with the host)."""
    if not name:
        return None
    k32 = kernel32()
    h, opened = _OWN.get(name), False
    if h is None:
        h, opened = k32.OpenJobObjectW(_JOB_QUERY_AND_TERMINATE, False, name), True
        if not h:
            return None
    try:
        acct = BasicAccounting()
        ok = k32.QueryInformationJobObject(h, _BASIC_ACCOUNTING, ctypes.byref(acct),
                                           ctypes.sizeof(acct), None)
        return cpu_us(acct) if ok else None
    finally:
        if opened:
            k32.CloseHandle(h)


def kill(name: str) -> None:
    """End every process in the job."""
    h = _OWN.get(name)
    if h is not None:
        kernel32().TerminateJobObject(h, 1)


def remove(name: str) -> None:
    """End what is inside and close our handle (the job goes with its last handle)."""
    h = _OWN.pop(name, None)
    if h is not None:
        k32 = kernel32()
        k32.TerminateJobObject(h, 1)
        k32.CloseHandle(h)


class CellJob:
    """A Job Object made for one cell; ``path`` (its name, the cgroup's path on Linux) is
    None when none could be made (and ``why``)."""

    id = None   # no cgroup id: Windows sensors filter by process, not by group

    def __init__(self, name: str):
        self.path: str | None = None
        self.why = ""
        full = f"Local\\{PARENT}-{os.getpid()}-{name}"
        k32 = kernel32()
        h = k32.CreateJobObjectW(None, full)
        if not h:
            self.why = f"CreateJobObject failed: error {ctypes.get_last_error()}"
            return
        info = ExtendedLimit()
        info.BasicLimitInformation.LimitFlags = KILL_ON_JOB_CLOSE
        if not k32.SetInformationJobObject(h, _EXTENDED_LIMIT, ctypes.byref(info),
                                           ctypes.sizeof(info)):
            self.why = f"SetInformationJobObject failed: error {ctypes.get_last_error()}"
            k32.CloseHandle(h)
            return
        _OWN[full] = h
        self.path = full

    def cpu_usage_us(self) -> int | None:
        return usage_us(self.path)

    def remove(self) -> None:
        if self.path is not None:
            remove(self.path)
            self.path = None


def current() -> None:
    """No group of our own to go back to (cgroup.current's counterpart)."""
    return None


def clean_stale() -> int:
    """Nothing to clean: a killed run's jobs closed with its handles and took their
    processes with them (kill-on-close)."""
    return 0


def remove_parent_if_empty() -> None:
    """Jobs have no parent directory to remove."""

