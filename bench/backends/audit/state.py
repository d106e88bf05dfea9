"""Save and restore the host's audit configuration, exactly, even across a kill -9.

``save()`` reads the enabled flag, failure mode, audit pid, rate limit, backlog limit,
backlog wait time and the full rule list (as the kernel's own bytes, in order);
``restore(state)`` puts every one of them back. Whoever changes audit settings first
calls ``claim()``: it takes an exclusive lock on ``/run/sensorbench/audit-state.json``,
restores what a previous owner that died without cleaning up left behind (the file still
holds the state from before its change), then writes the current state there. ``release``
restores it and removes the file. The lock is a flock, so it dies with its process and a
second audit user (another cell, the ``auditd`` adapter) is refused while one is active.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import json
import os
import platform
from dataclasses import asdict, dataclass, field

from bench.backends.audit import rules
from bench.backends.audit.netlink import AuditConn, AuditError, Status
from bench.core.errors import BackendUnavailable, BenchError

STATE_DIR = os.environ.get("SENSORBENCH_RUN_DIR", "/run/sensorbench")
STATE_FILE = os.path.join(STATE_DIR, "audit-state.json")


@dataclass(frozen=True)
class AuditState:
    enabled: int
    failure: int
    pid: int
    rate_limit: int
    backlog_limit: int
    backlog_wait_time: int
    rules: tuple[bytes, ...] = field(default=())

    def to_json(self) -> dict:
        d = asdict(self)
        d["rules"] = [base64.b64encode(r).decode() for r in self.rules]
        return d

    @classmethod
    def from_json(cls, d: dict) -> AuditState:
        d = dict(d)
        d["rules"] = tuple(base64.b64decode(r) for r in d.get("rules", []))
        return cls(**d)

    def describe(self) -> str:
        return (f"enabled={self.enabled} failure={self.failure} pid={self.pid} "
                f"rate_limit={self.rate_limit} backlog_limit={self.backlog_limit} "
                f"backlog_wait_time={self.backlog_wait_time} rules={len(self.rules)}")


def save(conn: AuditConn | None = None) -> AuditState:
    """The host's audit configuration now."""
    own = conn is None
    conn = conn or AuditConn()
    try:
        s = conn.status()
        rules = tuple(conn.list_rules())
    finally:
        if own:
            conn.close()
    return AuditState(s.enabled, s.failure, s.pid, s.rate_limit, s.backlog_limit,
                      s.backlog_wait_time, rules)


def restore(state: AuditState, conn: AuditConn | None = None) -> None:
    """Put ``state`` back: rules (same bytes, same order), limits, failure mode, enabled
    flag and audit pid. Everything that can be restored is, before any error is raised."""
    own = conn is None
    conn = conn or AuditConn()
    problems: list[str] = []
    try:
        now = save(conn)
        if now.enabled == 2:
            raise BenchError("audit configuration is locked (enabled=2): cannot restore it "
                             "until reboot")
        if now.rules != state.rules:
            # Order matters within a filter list: the only exact way back is all out, all in.
            for rule in now.rules:
                try:
                    conn.del_rule(rule)
                except AuditError as e:
                    if e.errno != errno.ENOENT:
                        problems.append(str(e))
            for rule in state.rules:
                try:
                    conn.add_rule(rule)
                except AuditError as e:
                    problems.append(str(e))
        for name in ("failure", "rate_limit", "backlog_limit", "backlog_wait_time"):
            if getattr(now, name) != getattr(state, name):
                try:
                    conn.set(**{name: getattr(state, name)})
                except AuditError as e:
                    problems.append(str(e))
        if now.pid != state.pid:
            try:
                # Unregistering works from the registered process, or once the kernel has
                # found the registered socket dead; registering someone else cannot be done.
                conn.set(pid=state.pid)
            except AuditError as e:
                problems.append(f"{e} (audit pid {now.pid}, saved {state.pid})")
        if now.enabled != state.enabled:
            try:
                conn.set(enabled=state.enabled)
            except AuditError as e:
                problems.append(str(e))
    finally:
        if own:
            conn.close()
    if problems:
        raise BenchError("audit state not fully restored: " + "; ".join(problems))


class Claim:
    """Exclusive ownership of the host's audit configuration for one sensor."""

    def __init__(self, fd: int, state: AuditState):
        self._fd = fd
        self.state = state

    def release(self, conn: AuditConn | None = None) -> None:
        """Restore the saved state, then drop the file and the lock (even if restoring
        failed: the error is raised after, and the next claim will not retry it blindly
        over a state someone else may have set since)."""
        if self._fd < 0:
            return
        try:
            restore(self.state, conn)
        finally:
            try:
                os.unlink(STATE_FILE)
            except FileNotFoundError:
                pass
            os.close(self._fd)  # closing drops the flock
            self._fd = -1

    def abort(self) -> None:
        """Restore the saved state over a connection of its own, for a process about to
        exit whose ``release`` may be stuck on another thread. The lock stays held until
        the process exits (then the state file is gone, or the next claim restores it)."""
        if self._fd < 0:
            return
        restore(self.state)
        try:
            os.unlink(STATE_FILE)
        except FileNotFoundError:
            pass


def _lock() -> int:
    os.makedirs(STATE_DIR, mode=0o700, exist_ok=True)
    fd = os.open(STATE_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise BackendUnavailable("audit is in use by another sensorbench sensor "
                                 f"(lock held on {STATE_FILE})") from None
    # The file may have been unlinked by its previous owner between our open and flock.
    try:
        if os.fstat(fd).st_ino != os.stat(STATE_FILE).st_ino:
            os.close(fd)
            return _lock()
    except FileNotFoundError:
        os.close(fd)
        return _lock()
    return fd


def _read_saved(fd: int) -> AuditState | None:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = b""
    while chunk := os.read(fd, 1 << 16):
        raw += chunk
    if not raw.strip():
        return None
    try:
        return AuditState.from_json(json.loads(raw))
    except (ValueError, TypeError, KeyError):
        return None


def _write_saved(fd: int, state: AuditState) -> None:
    data = json.dumps(state.to_json()).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)


def recover_stale() -> AuditState | None:
    """If a sensor died (kill -9) holding changed audit settings, restore what it saved.
    Returns the state restored, or None when there was nothing to do. Raises
    BackendUnavailable when another live sensor holds the claim."""
    fd = _lock()
    try:
        stale = _read_saved(fd)
        if stale is not None:
            restore(stale)
        os.unlink(STATE_FILE)  # we hold the lock: nobody else is using the file
        return stale
    finally:
        os.close(fd)


def recover_quietly() -> str | None:
    """``recover_stale`` for clean-up paths: what was restored, or None when there was
    nothing to do or another live sensor holds audit (then it is theirs to restore)."""
    if not os.path.exists(STATE_FILE):
        return None
    try:
        stale = recover_stale()
    except BackendUnavailable:
        return None
    return f"audit state restored ({stale.describe()})" if stale else None


def host_status() -> tuple[Status | None, str | None]:
    """For ``available()`` of both audit consumers: the kernel's audit ``Status`` once a
    dead sensor's changes are undone, as ``(status, None)``, or ``(None, why not)``."""
    if rules.machine_table() is None:
        return None, f"no syscall table for {platform.machine()} (x86_64 and aarch64 known)"
    try:
        recover_stale()  # a sensor killed with -9 left its changes: undo them
        with AuditConn() as c:
            return c.status(), None
    except BackendUnavailable as e:
        return None, str(e)
    except OSError as e:
        return None, f"kernel audit unavailable: {e.strerror or e}"
    except Exception as e:
        return None, f"audit state could not be recovered: {e}"


def claim() -> Claim:
    """Lock, recover a dead owner's leftovers, save the current state to the file."""
    fd = _lock()
    try:
        stale = _read_saved(fd)
        if stale is not None:
            restore(stale)
        state = save()
        _write_saved(fd, state)
    except BaseException:
        os.close(fd)
        raise
    return Claim(fd, state)
