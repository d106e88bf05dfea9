"""Linux process plumbing shared by the harness, the sensor host, backends and workloads:
libc through ctypes (loaded once), the parent-death signal, timer slack, stopping a process
group, joining a cgroup, and a private mount namespace.

Kept apart so the rest imports nothing Linux-only at import time: every function here is a
no-op (or says why it cannot work) on other systems.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

from bench.core.errors import FacilityError

IS_LINUX = sys.platform.startswith("linux")

_PR_SET_PDEATHSIG = 1
_PR_SET_TIMERSLACK = 29
_CLONE_NEWNS = 0x00020000
_MS_REC = 0x4000
_MS_PRIVATE = 1 << 18

# Loaded at import, before any fork: a child's preexec hook (die_with_parent) must not
# dlopen between fork and exec.
_libc = ctypes.CDLL(None, use_errno=True) if IS_LINUX else None


def libc():
    """The C library (errno kept)."""
    return _libc


def check(ret: int, what: str) -> int:
    """A libc return value, or the OSError (naming the call) its errno describes."""
    if ret < 0:
        e = ctypes.get_errno()
        raise FacilityError(e, f"{what}: {os.strerror(e)}")
    return ret


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def die_with_parent(sig: int, parent: int | None = None) -> None:
    """Ask the kernel to send ``sig`` when the parent goes away (PR_SET_PDEATHSIG).

    The kernel sends it when the *thread* that forked us exits, so a process whose parent
    has several threads may get it more than once while they die: handlers must be
    idempotent. A parent that died before this call (``parent`` is the pid we were started
    by) sends nothing, so then the signal is raised here.
    """
    if not IS_LINUX:
        return
    libc().prctl(_PR_SET_PDEATHSIG, sig)
    if os.getppid() != (parent if parent is not None else os.getppid()) or os.getppid() == 1:
        os.kill(os.getpid(), sig)


def tight_timers() -> None:
    """Timer slack of 1 ns for the calling thread: sleeps end on time instead of up to the
    default 50 µs late. Nothing off Linux."""
    if IS_LINUX:
        libc().prctl(_PR_SET_TIMERSLACK, 1)


def kill_group(pgid: int) -> None:
    """SIGKILL a whole process group; nothing when it is gone (or not ours)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a process group; False when it is gone."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False


def popen_group() -> dict:
    """``subprocess.Popen`` arguments that give a child a process group (and session) of its
    own, which ``stop_group`` signals and Ctrl-C at the terminal does not reach."""
    return {"start_new_session": True}


def lock_file(fd: int, wait: bool) -> bool:
    """An exclusive lock on an open file, held until it is closed (flock); False when
    ``wait`` is off and another process holds it."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        return True
    except BlockingIOError:
        return False


def is_elevated() -> bool:
    """Whether this process runs as root."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def join_cgroup(path: str | None) -> bool:
    """Move the calling process into the cgroup v2 at ``path`` (what it starts later follows
    it). Writes ``0`` (the writer itself), so it also works in a forked child before exec.
    False without a path or when the move is refused."""
    if not path:
        return False
    try:
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write("0")
        return True
    except OSError:
        return False


join_group = join_cgroup   # the name ``osapi`` gives it on every platform


def private_mount_namespace() -> None:
    """Give the calling thread (and what it starts) a mount namespace of its own in which
    nothing propagates back to the host: mounts made after this vanish with the last
    process that uses them, also after SIGKILL. Call it before starting threads."""
    L = libc()
    check(L.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    check(L.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate /")


TRACEFS = "/sys/kernel/tracing"


def ensure_tracefs() -> str:
    """Tracepoints are attached by id, read from tracefs, and tracepoint tools read their
    formats there. Returns ``"mounted"`` when the host has it; otherwise mounts it in a
    private mount namespace of this process (``"mounted by the sensor, private"``), so the
    host's mount table is never changed and nothing is left when the sensor ends, however
    it ends. Raises OSError with a one-line reason when that cannot be done."""
    if os.path.isdir(os.path.join(TRACEFS, "events")):
        return "mounted"
    if not IS_LINUX or os.geteuid() != 0:
        raise FacilityError(1, f"tracefs is not mounted at {TRACEFS} and mounting it needs root")
    private_mount_namespace()
    check(libc().mount(b"nodev", TRACEFS.encode(), b"tracefs", 0, None),
          f"mount tracefs at {TRACEFS}")
    return "mounted by the sensor, private"
