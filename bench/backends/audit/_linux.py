"""Host lookups the audit sensor needs besides netlink: listening ports and kauditd."""

from __future__ import annotations

import os


class ListenPorts:
    """(pid, fd) of a listening socket -> its local port, via /proc, cached by inode.

    Audit's SOCKADDR record of an accept carries the peer (client) address only; the server
    port is that of the listening socket, which lives as long as the server does, so it
    can be looked up after the fact (unlike a connecting socket, closed by then)."""

    def __init__(self) -> None:
        self.by_inode: dict[int, int] = {}
        self.by_fd: dict[tuple[int, int], int] = {}
        self.lookups = 0

    def __call__(self, pid: int, fd: int) -> int | None:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            # The server is gone by the time we read its backlog of records: a listening
            # fd we resolved before still names the same socket (it was never closed
            # while accepting), so its last known port is the answer.
            return self.by_fd.get((pid, fd))
        if not link.startswith("socket:["):
            return None
        ino = int(link[8:-1])
        port = self.by_inode.get(ino)
        if port is None:
            self.lookups += 1
            port = _port_of_inode(pid, ino)
            if port is not None:
                self.by_inode[ino] = port
        if port is not None:
            self.by_fd[(pid, fd)] = port
        return port


def _port_of_inode(pid: int, ino: int) -> int | None:
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f, None)
                for line in f:
                    parts = line.split()
                    if len(parts) > 9 and parts[9] == str(ino):
                        return int(parts[1].rsplit(":", 1)[1], 16)
        except OSError:
            continue
    return None


def kauditd():
    """The kauditd kernel thread as a psutil.Process, or None."""
    import psutil

    for p in psutil.process_iter(["name"]):
        if p.info["name"] == "kauditd":
            return p
    return None


def cpu_s(proc) -> float:
    if proc is None:
        return float("nan")
    try:
        t = proc.cpu_times()
        return t.user + t.system
    except Exception:
        return float("nan")


def process_name(pid: int) -> str:
    """The name of process ``pid`` ('?' when it is gone or hidden)."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() or "?"
    except OSError:
        return "?"


def holder_refusal(pid: int, enabled: int, auditd_pid: int | None,
                   name_of=process_name) -> str | None:
    """Why no audit backend of ours can run while the host holds audit, in one line that
    names the holder and how the user can free it; None when audit is free. The kernel
    has one audit pid: whoever holds it (the host's auditd, usually) is the host's
    security service, which a benchmark does not stop or replace."""
    if pid:
        name = name_of(pid)
        return (f"the audit socket is held by {name} (pid {pid}), the host's audit daemon: "
                f"sensorbench leaves it alone; stop {name} (e.g. `systemctl stop {name}`) "
                "to run the audit backends here")
    if auditd_pid:
        return (f"the host's auditd (pid {auditd_pid}) is running and will take the audit "
                "socket: sensorbench leaves it alone; stop it (`systemctl stop auditd`) to "
                "run the audit backends here")
    if enabled == 2:
        return "audit configuration is locked (enabled=2) until reboot"
    return None


def auditd_running() -> int | None:
    """pid of a process named auditd, if any (it may run without being registered yet)."""
    import psutil

    for p in psutil.process_iter(["name"]):
        if p.info["name"] == "auditd":
            return p.pid
    return None
