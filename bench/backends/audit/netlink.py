"""The audit netlink protocol: requests to the kernel and their replies.

``AuditConn`` speaks NETLINK_AUDIT for control: AUDIT_GET / AUDIT_SET (``struct
audit_status``), AUDIT_LIST_RULES / AUDIT_ADD_RULE / AUDIT_DEL_RULE (``struct
audit_rule_data``, kept as the exact bytes the kernel lists so a rule can be deleted or
re-added byte for byte). The socket that receives events is a separate ``AuditConn``
(the kernel sends records to the port of the socket that registered the audit pid).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from dataclasses import dataclass, fields

from bench.backends import _netlink
from bench.core.errors import FacilityError

NETLINK_AUDIT = 9
SO_RCVBUFFORCE = 33

AUDIT_GET = 1000
AUDIT_SET = 1001
AUDIT_LIST_RULES = 1013
AUDIT_ADD_RULE = 1011
AUDIT_DEL_RULE = 1012

AUDIT_STATUS_ENABLED = 0x0001
AUDIT_STATUS_FAILURE = 0x0002
AUDIT_STATUS_PID = 0x0004
AUDIT_STATUS_RATE_LIMIT = 0x0008
AUDIT_STATUS_BACKLOG_LIMIT = 0x0010
AUDIT_STATUS_BACKLOG_WAIT_TIME = 0x0020

RULE_HDR = struct.Struct("=III")      # flags, action, field_count
RULE_FIXED = 4 * (3 + 64 * 4 + 1)      # up to and including buflen
_STATUS = struct.Struct("=11I")


@dataclass
class Status:
    """``struct audit_status`` as the kernel reports it."""

    mask: int = 0
    enabled: int = 0
    failure: int = 0
    pid: int = 0
    rate_limit: int = 0
    backlog_limit: int = 0
    lost: int = 0
    backlog: int = 0
    feature_bitmap: int = 0
    backlog_wait_time: int = 0
    backlog_wait_time_actual: int = 0

    @classmethod
    def unpack(cls, payload: bytes) -> Status:
        raw = bytes(payload[:_STATUS.size]).ljust(_STATUS.size, b"\0")  # older kernels: shorter
        return cls(*_STATUS.unpack(raw))

    def pack(self) -> bytes:
        return _STATUS.pack(*(getattr(self, f.name) for f in fields(self)))


class AuditError(FacilityError):
    """The kernel refused an audit netlink request (errno and one line)."""


def rule_size(payload: bytes) -> int:
    """Length of one ``audit_rule_data`` (fixed part + buflen), or -1 if malformed."""
    if len(payload) < RULE_FIXED:
        return -1
    buflen = struct.unpack_from("=I", payload, RULE_FIXED - 4)[0]
    return RULE_FIXED + buflen if RULE_FIXED + buflen <= len(payload) else -1


class AuditConn:
    """One NETLINK_AUDIT socket. Needs CAP_AUDIT_CONTROL (root)."""

    def __init__(self, timeout: float = 5.0):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                  NETLINK_AUDIT)
        try:
            self.sock.bind((0, 0))
            self.sock.settimeout(timeout)
        except BaseException:
            self.sock.close()
            raise
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> AuditConn:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def portid(self) -> int:
        return self.sock.getsockname()[0]

    def _send(self, mtype: int, payload: bytes, ack: bool) -> int:
        self._seq += 1
        flags = _netlink.NLM_F_REQUEST | (_netlink.NLM_F_ACK if ack else 0)
        self.sock.send(_netlink.pack(mtype, payload, flags=flags, seq=self._seq))
        return self._seq

    def _replies(self, seq: int):
        """Yield (type, flags, payload) of the replies to request ``seq``."""
        while True:
            buf = self.sock.recv(1 << 16)
            msgs, _bad = _netlink.split(buf)
            for mtype, flags, mseq, payload in msgs:
                if mseq != seq:
                    continue  # an event record or a stale reply: not ours
                yield mtype, flags, bytes(payload)

    def _check_ack(self, mtype: int, payload: bytes, what: str) -> bool:
        """True for an ack; raises for a netlink error."""
        if mtype != _netlink.NLMSG_ERROR:
            return False
        err = -struct.unpack_from("=i", payload, 0)[0]
        if err:
            raise AuditError(err, f"{what}: {os.strerror(err)}")
        return True

    def request(self, mtype: int, payload: bytes, what: str) -> None:
        """A request that is answered by an ack only (SET, ADD_RULE, DEL_RULE)."""
        seq = self._send(mtype, payload, ack=True)
        for rtype, _f, rp in self._replies(seq):
            if self._check_ack(rtype, rp, what):
                return

    def status(self) -> Status:
        seq = self._send(AUDIT_GET, b"", ack=False)
        for rtype, _f, rp in self._replies(seq):
            self._check_ack(rtype, rp, "AUDIT_GET")
            if rtype == AUDIT_GET:
                return Status.unpack(rp)
        raise AuditError(errno.EPROTO, "AUDIT_GET: no status")  # pragma: no cover

    def set(self, **values: int) -> None:
        """AUDIT_SET one field at a time, so a refusal names the field."""
        bits = {"enabled": AUDIT_STATUS_ENABLED, "failure": AUDIT_STATUS_FAILURE,
                "pid": AUDIT_STATUS_PID, "rate_limit": AUDIT_STATUS_RATE_LIMIT,
                "backlog_limit": AUDIT_STATUS_BACKLOG_LIMIT,
                "backlog_wait_time": AUDIT_STATUS_BACKLOG_WAIT_TIME}
        for name, value in values.items():
            s = Status(mask=bits[name])
            setattr(s, name, value)
            self.request(AUDIT_SET, s.pack(), f"AUDIT_SET {name}={value}")

    def list_rules(self) -> list[bytes]:
        seq = self._send(AUDIT_LIST_RULES, b"", ack=False)
        rules = []
        for rtype, _f, rp in self._replies(seq):
            self._check_ack(rtype, rp, "AUDIT_LIST_RULES")
            if rtype == _netlink.NLMSG_DONE:
                return rules
            if rtype == AUDIT_LIST_RULES:
                n = rule_size(rp)
                if n < 0:
                    raise AuditError(errno.EPROTO, "AUDIT_LIST_RULES: malformed rule")
                rules.append(rp[:n])
        return rules  # pragma: no cover

    def add_rule(self, rule: bytes) -> None:
        self.request(AUDIT_ADD_RULE, rule, "AUDIT_ADD_RULE")

    def del_rule(self, rule: bytes) -> None:
        self.request(AUDIT_DEL_RULE, rule, "AUDIT_DEL_RULE")

    def set_rcvbuf(self, nbytes: int) -> None:
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, nbytes)
