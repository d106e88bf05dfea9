"""The audit rules this sensor installs, encoded as ``struct audit_rule_data``.

Syscall-exit rules, each tagged with a key unique to the cell so they can be told from
anyone else's:

- processes, system-wide: execve/execveat and clone/clone3/fork/vfork (success only: the
  parent's return value is the child pid), plus accept/accept4;
- exits, system-wide: exit_group (it never returns, so ``success`` cannot filter it);
- connects, system-wide, one rule per address family (``-F saddr_fam=``: AF_INET,
  AF_INET6), success only. The family filter keeps the machine's AF_UNIX connects
  (journald, D-Bus, nscd) out of the record stream. ``success`` drops a non-blocking
  connect, which returns EINPROGRESS and completes later: a sensor of this rule misses
  those, the workload's blocking loopback connect returns 0. The sensor cannot feed
  itself: the kernel never audits the registered audit daemon's own syscalls (nor does
  the sensor connect anywhere), and the harness makes no connects during a cell;
- files, scoped to the workload directory (``-F dir=``, an audit tree): open/openat/
  openat2/creat (a create shows as a PATH record with nametype=CREATE; the flags tell an
  open for writing), rename*, unlink*.

Only the native 64-bit ABI is audited (an ``arch`` field is required for syscall numbers
to mean anything); 32-bit syscalls on the same machine are not seen.

Also what the rules give both audit consumers (``audit`` and the ``auditd`` peer) alike:
the kinds they can report, the partial keys two of them are matched on, and the kernel
settings they expose.
"""

from __future__ import annotations

import platform
import struct

from bench.core.kinds import PROC_KINDS, Kind
from bench.core.partialkey import PartialKey
from bench.core.settings import Setting, non_negative

AUDIT_FILTER_EXIT = 0x04
AUDIT_ALWAYS = 2
AUDIT_ARCH = 11
AUDIT_SUCCESS = 104
AUDIT_DIR = 107
AUDIT_SADDR_FAM = 113
AUDIT_FILTERKEY = 210
AUDIT_EQUAL = 0x40000000

# name -> number, per architecture; and the audit arch id of that ABI.
SYSCALLS = {
    "x86_64": (0xC000003E, {
        "open": 2, "connect": 42, "accept": 43, "clone": 56, "fork": 57, "vfork": 58,
        "execve": 59, "rename": 82, "creat": 85, "unlink": 87, "exit_group": 231, "openat": 257,
        "unlinkat": 263, "renameat": 264, "accept4": 288, "renameat2": 316,
        "execveat": 322, "clone3": 435, "openat2": 437,
    }),
    "aarch64": (0xC00000B7, {
        "connect": 203, "accept": 202, "clone": 220, "execve": 221, "exit_group": 94,
        "openat": 56, "unlinkat": 35, "renameat": 38, "accept4": 242, "renameat2": 276,
        "execveat": 281, "clone3": 435, "openat2": 437,
    }),
}

PROC_SYSCALLS = ("execve", "execveat", "clone", "clone3", "fork", "vfork", "accept", "accept4")
EXIT_SYSCALLS = ("exit_group",)
CONNECT_SYSCALLS = ("connect",)
INET_FAMILIES = (2, 10)   # AF_INET, AF_INET6: one connect rule each
FILE_SYSCALLS = ("open", "openat", "openat2", "creat", "rename", "renameat", "renameat2",
                 "unlink", "unlinkat")


# net_send stays out: sendto's SOCKADDR names the destination only, so it could take the
# connect's partial key, but a system-wide sendto rule puts a record on every datagram the
# machine sends (sendto has no path to scope it by); not done.
KINDS = PROC_KINDS | {Kind.file_create, Kind.file_write, Kind.file_rename, Kind.file_delete,
                      Kind.net_connect, Kind.net_accept}

# Two kinds whose records carry only part of the key (bench.core.partialkey):
# - net_connect: SOCKADDR names the server; the client's port, bound by the connect,
#   appears in no record. pid + server port is what go-audit and auditbeat key on. Every
#   connect of a cell has the same pid and server port, so time decides. A report later
#   than the window passes over its own operation (a drop) and takes a later one (at the
#   end, a duplicate): the window must lie above every delivery latency, and audit's grows
#   without loss when it holds the workload back (0.54 s in a 5000/s cell on a loaded
#   machine, where a 0.5 s window made 87 drops and 87 duplicates out of none; seconds
#   for a stalled consumer). Too wide costs less: audit rarely loses records (it holds
#   the workload back first), and k lost connects shift the matches after them by k
#   operations (their latencies grow by k gaps) while the drop count stays right. So 5 s.
# - file_write: write(2) names no path; the open that made the file writable does (what
#   ``-w DIR -p w`` watches), and it comes before the write it enables. A path is one file
#   of one cell, so the window only bounds how long a file may stay open before its write
#   (the file workload writes at its next operation: 1/rate on average).
PARTIAL_KEYS = {
    Kind.net_connect: PartialKey("pid+server_port", "pid + server port", after_ms=5000),
    Kind.file_write: PartialKey("path", "path, opened for write before the write",
                                after_ms=None, before_ms=1000),
}


def _failure_mode(v: int) -> str | None:
    if v == 2:
        return "2 (panic) would crash the host on lost records: use 0 (silent) or 1 (printk)"
    return None if v in (0, 1) else "must be 0 (silent) or 1 (printk)"


# The kernel's audit settings (AUDIT_SET; auditctl -b, -r, --backlog_wait_time, -f), set
# for the cell and restored after it.
SETTINGS = {
    "backlog_limit": Setting(int, 8192, "kernel queue of records waiting for the consumer "
                             "(auditctl -b)", non_negative),
    "rate_limit": Setting(int, 0, "records per second before audit drops (0 = none)",
                          non_negative),
    "backlog_wait_time": Setting(int, 15000, "jiffies a task waits for queue room "
                                 "before its record is lost (kernel default 60*HZ)",
                                 non_negative),
    "failure": Setting(int, 1, "on lost records: 0 silent, 1 printk (2 = panic refused)",
                       _failure_mode),
}


def machine_table() -> tuple[int, dict[str, int]] | None:
    """(audit arch, syscall numbers) of this machine, or None if we have no table."""
    return SYSCALLS.get(platform.machine())


def encode(syscalls: list[int], arch: int, key: str, success: bool = False,
           directory: str | None = None, extra_declared: int = 0,
           saddr_fam: int | None = None) -> bytes:
    """One ``-a always,exit`` rule as the kernel wants it. ``extra_declared``: fields the
    rule's count claims beyond those it carries (a malformed content update, which the
    kernel must refuse: an unset field has no valid operator). ``saddr_fam``: only
    syscalls whose socket address has this family (``-F saddr_fam=``)."""
    mask = [0] * 64
    for nr in syscalls:
        mask[nr // 32] |= 1 << (nr % 32)
    fields: list[tuple[int, int]] = [(AUDIT_ARCH, arch)]
    buf = b""
    if success:
        fields.append((AUDIT_SUCCESS, 1))
    if saddr_fam is not None:
        fields.append((AUDIT_SADDR_FAM, saddr_fam))
    if directory is not None:
        d = directory.encode()
        fields.append((AUDIT_DIR, len(d)))
        buf += d
    k = key.encode()
    fields.append((AUDIT_FILTERKEY, len(k)))
    buf += k
    f = [0] * 64
    v = [0] * 64
    ff = [0] * 64
    for i, (field, value) in enumerate(fields):
        f[i], v[i], ff[i] = field, value, AUDIT_EQUAL
    return struct.pack("=III64I64I64I64II", AUDIT_FILTER_EXIT, AUDIT_ALWAYS,
                       len(fields) + extra_declared,
                       *mask, *f, *v, *ff, len(buf)) + buf


def sensor_rules(key: str, workdir: str) -> list[bytes]:
    table = machine_table()
    if table is None:
        raise ValueError(f"no syscall table for {platform.machine()}")
    arch, nrs = table

    def pick(names):
        return [nrs[n] for n in names if n in nrs]

    return [
        encode(pick(PROC_SYSCALLS), arch, key, success=True),
        encode(pick(EXIT_SYSCALLS), arch, key),
        *(encode(pick(CONNECT_SYSCALLS), arch, key, success=True, saddr_fam=fam)
          for fam in INET_FAMILIES),
        encode(pick(FILE_SYSCALLS), arch, key, success=True, directory=workdir),
    ]


# A content update's record names a kind; the rule it becomes watches these syscalls.
KIND_SYSCALLS = {Kind.proc_fork: ("clone", "clone3", "fork", "vfork"),
                 Kind.proc_exec: ("execve", "execveat"), Kind.proc_exit: EXIT_SYSCALLS,
                 Kind.file_create: ("open", "openat", "openat2", "creat"),
                 Kind.file_write: ("open", "openat", "openat2", "creat"),
                 Kind.net_connect: CONNECT_SYSCALLS,
                 Kind.file_rename: ("rename", "renameat", "renameat2"),
                 Kind.file_delete: ("unlink", "unlinkat"), Kind.net_accept: ("accept", "accept4")}


def update_rules(content: str, key: str) -> list[bytes]:
    """The audit rules a channel file (bench.backends._content) becomes, one per record,
    passed on as read, the way auditctl hands a rules file to the kernel: a record that
    declares more fields than it carries becomes a rule whose field count does too, and a
    kind this sensor has no syscalls for becomes a rule with none. The kernel checks."""
    from bench.backends import _content

    _, declared, records = _content.header(content)
    arch, nrs = machine_table()
    out = []
    for rec in records:
        try:
            kind = Kind(int(rec.split(",")[0]))
        except ValueError:
            kind = None
        names = KIND_SYSCALLS.get(kind, ())
        out.append(encode([nrs[n] for n in names if n in nrs], arch, key,
                          extra_declared=declared - _content.FIELDS))
    return out
