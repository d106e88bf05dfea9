"""The audit rules this sensor installs, encoded as ``struct audit_rule_data``.

Three syscall-exit rules, each tagged with a key unique to the cell so they can be told
from anyone else's:

- processes, system-wide: execve/execveat and clone/clone3/fork/vfork (success only: the
  parent's return value is the child pid), plus accept/accept4;
- exits, system-wide: exit_group (it never returns, so ``success`` cannot filter it);
- files, scoped to the workload directory (``-F dir=``, an audit tree): open/openat/
  openat2/creat (a create shows as a PATH record with nametype=CREATE), rename*, unlink*.

Only the native 64-bit ABI is audited (an ``arch`` field is required for syscall numbers
to mean anything); 32-bit syscalls on the same machine are not seen.

Also what the rules give both audit consumers (``audit`` and the ``auditd`` peer) alike:
the kinds they can report and the kernel settings they expose.
"""

from __future__ import annotations

import platform
import struct

from bench.core.kinds import PROC_KINDS, Kind
from bench.core.settings import Setting, non_negative

AUDIT_FILTER_EXIT = 0x04
AUDIT_ALWAYS = 2
AUDIT_ARCH = 11
AUDIT_SUCCESS = 104
AUDIT_DIR = 107
AUDIT_FILTERKEY = 210
AUDIT_EQUAL = 0x40000000

# name -> number, per architecture; and the audit arch id of that ABI.
SYSCALLS = {
    "x86_64": (0xC000003E, {
        "open": 2, "accept": 43, "clone": 56, "fork": 57, "vfork": 58, "execve": 59,
        "rename": 82, "creat": 85, "unlink": 87, "exit_group": 231, "openat": 257,
        "unlinkat": 263, "renameat": 264, "accept4": 288, "renameat2": 316,
        "execveat": 322, "clone3": 435, "openat2": 437,
    }),
    "aarch64": (0xC00000B7, {
        "accept": 202, "clone": 220, "execve": 221, "exit_group": 94, "openat": 56,
        "unlinkat": 35, "renameat": 38, "accept4": 242, "renameat2": 276,
        "execveat": 281, "clone3": 435, "openat2": 437,
    }),
}

PROC_SYSCALLS = ("execve", "execveat", "clone", "clone3", "fork", "vfork", "accept", "accept4")
EXIT_SYSCALLS = ("exit_group",)
FILE_SYSCALLS = ("open", "openat", "openat2", "creat", "rename", "renameat", "renameat2",
                 "unlink", "unlinkat")


# write(2) names no path, and SOCKADDR holds no local port (no connect/send key).
KINDS = PROC_KINDS | {Kind.file_create, Kind.file_rename, Kind.file_delete, Kind.net_accept}


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
           directory: str | None = None, extra_declared: int = 0) -> bytes:
    """One ``-a always,exit`` rule as the kernel wants it. ``extra_declared``: fields the
    rule's count claims beyond those it carries (a malformed content update, which the
    kernel must refuse: an unset field has no valid operator)."""
    mask = [0] * 64
    for nr in syscalls:
        mask[nr // 32] |= 1 << (nr % 32)
    fields: list[tuple[int, int]] = [(AUDIT_ARCH, arch)]
    buf = b""
    if success:
        fields.append((AUDIT_SUCCESS, 1))
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
    return struct.pack(f"=III64I64I64I64II", AUDIT_FILTER_EXIT, AUDIT_ALWAYS,
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
        encode(pick(FILE_SYSCALLS), arch, key, success=True, directory=workdir),
    ]


# A content update's record names a kind; the rule it becomes watches these syscalls.
KIND_SYSCALLS = {Kind.proc_fork: ("clone", "clone3", "fork", "vfork"),
                 Kind.proc_exec: ("execve", "execveat"), Kind.proc_exit: EXIT_SYSCALLS,
                 Kind.file_create: ("open", "openat", "openat2", "creat"),
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
