"""Windows process plumbing: the counterpart of ``_linux.py`` (chosen by ``osapi``).

What Linux does with process groups, PR_SET_PDEATHSIG and cgroups, Windows does with
Job Objects (``bench.harness.jobobject``): every process of a cell runs in a job that the
harness holds with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, so when the harness dies, however it
dies, the kernel closes its handle and ends them. The functions here are the small rest:
whether a pid lives, joining a job by name, stopping a process tree, the timer period,
elevation. Nothing here runs on Linux; everything imports there (ctypes.windll is looked up
only when called), so the layer tests can import it.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys

import psutil

IS_WINDOWS = sys.platform == "win32"

CREATE_NEW_PROCESS_GROUP = 0x00000200
JOB_OBJECT_ASSIGN_PROCESS = 0x0001
JOB_OBJECT_SET_ATTRIBUTES = 0x0002
JOB_OBJECT_QUERY = 0x0004
JOB_OBJECT_TERMINATE = 0x0008


@functools.cache
def kernel32():
    """kernel32 with the prototypes of the Job Object calls (here and
    ``bench.harness.jobobject``), built once: the harness reads job CPU every cell."""
    vp, u32, i, ws = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_wchar_p
    k32 = ctypes.WinDLL("kernel32", use_last_error=True)
    for name, restype, argtypes in (
            ("CreateJobObjectW", vp, [vp, ws]),
            ("OpenJobObjectW", vp, [u32, i, ws]),
            ("SetInformationJobObject", i, [vp, i, vp, u32]),
            ("QueryInformationJobObject", i, [vp, i, vp, u32, vp]),
            ("TerminateJobObject", i, [vp, u32]),
            ("AssignProcessToJobObject", i, [vp, vp]),
            ("GetCurrentProcess", vp, []),
            ("CloseHandle", i, [vp])):
        f = getattr(k32, name)
        f.restype, f.argtypes = restype, argtypes
    return k32


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists."""
    return psutil.pid_exists(pid)


def die_with_parent(sig: int, parent: int | None = None) -> None:
    """Nothing: Windows has no parent-death signal. The process's Job Object does that job
    (kill-on-close, held by the harness)."""


def tight_timers() -> None:
    """A 1 ms system timer period while we run (``timeBeginPeriod``): waits end within a
    millisecond instead of the default 15.6 ms tick. Python 3.11's ``time.sleep`` already
    uses a high-resolution waitable timer; this covers waits inside other libraries."""
    if IS_WINDOWS:
        ctypes.WinDLL("winmm").timeBeginPeriod(1)


def popen_group() -> dict:
    """``subprocess.Popen`` arguments that give a child a process group of its own (so a
    console Ctrl-C reaches the harness alone, and CTRL_BREAK can be sent to the child)."""
    return {"creationflags": CREATE_NEW_PROCESS_GROUP}


def kill_group(pid: int) -> None:
    """End a process and every descendant; nothing when it is gone."""
    try:
        root = psutil.Process(pid)
        procs = root.children(recursive=True) + [root]
    except psutil.Error:
        return
    for p in procs:
        try:
            p.kill()          # TerminateProcess
        except psutil.Error:
            pass


def signal_group(pid: int, sig: int) -> bool:
    """Any stop signal becomes CTRL_BREAK_EVENT to the child's process group (it was
    started with ``popen_group()``; Python raises SIGBREAK there); False when it is gone."""
    try:
        os.kill(pid, signal.CTRL_BREAK_EVENT)
        return True
    except OSError:
        return False


def join_group(name: str | None) -> bool:
    """Put the calling process into the Job Object named ``name`` (what it starts later
    follows it, as with a cgroup). False without a name or when refused."""
    if not name or not IS_WINDOWS:
        return False
    k32 = kernel32()
    h = k32.OpenJobObjectW(JOB_OBJECT_ASSIGN_PROCESS | JOB_OBJECT_SET_ATTRIBUTES, False, name)
    if not h:
        return False
    try:
        return bool(k32.AssignProcessToJobObject(h, k32.GetCurrentProcess()))
    finally:
        # Only the harness's handle may keep the job open: kill-on-close fires when it goes.
        k32.CloseHandle(h)


def lock_file(fd: int, wait: bool) -> bool:
    """An exclusive lock on an open file's first byte, held until it is closed
    (``msvcrt.locking``); False when ``wait`` is off and another process holds it."""
    import msvcrt

    try:
        msvcrt.locking(fd, msvcrt.LK_LOCK if wait else msvcrt.LK_NBLCK, 1)
        return True
    except OSError:
        if wait:
            raise
        return False


def is_elevated() -> bool:
    """Whether this process runs elevated (an administrator's full token): ETW kernel
    providers and Sysmon's session need it."""
    if not IS_WINDOWS:
        return False
    try:
        return bool(ctypes.WinDLL("shell32").IsUserAnAdmin())
    except (OSError, AttributeError):
        return False
