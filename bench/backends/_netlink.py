"""Netlink message framing shared by the audit and proc connector backends.

A datagram read from a netlink socket holds one or more messages, each a 16-byte
``struct nlmsghdr`` (len, type, flags, seq, pid) followed by its payload, padded to 4 bytes.
``split`` walks them without trusting the kernel's (or a fixture's) lengths: a header that
claims more bytes than the datagram holds ends the walk and is counted as malformed.
"""

from __future__ import annotations

import struct

NLMSG_HDR = struct.Struct("=IHHII")   # nlmsg_len, nlmsg_type, nlmsg_flags, nlmsg_seq, nlmsg_pid
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE, NLMSG_OVERRUN = 1, 2, 3, 4
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4


def align(n: int) -> int:
    return (n + 3) & ~3


def pack(msg_type: int, payload: bytes, flags: int = NLM_F_REQUEST, seq: int = 0,
         pid: int = 0) -> bytes:
    """One netlink message: header plus payload, padded."""
    length = NLMSG_HDR.size + len(payload)
    return NLMSG_HDR.pack(length, msg_type, flags, seq, pid) + payload + b"\0" * (
        align(length) - length)


def split(buf: bytes | memoryview) -> tuple[list[tuple[int, int, int, memoryview]], int]:
    """Messages in a datagram as (type, flags, seq, payload) and the count of malformed ones.

    A truncated header, or a length below the header size or beyond the datagram, is one
    malformed message and ends the walk (nothing after it can be framed reliably)."""
    view = memoryview(buf)
    out = []
    off, n = 0, len(view)
    while off < n:
        if n - off < NLMSG_HDR.size:
            return out, 1
        length, mtype, flags, seq, _pid = NLMSG_HDR.unpack_from(view, off)
        if length < NLMSG_HDR.size or off + length > n:
            return out, 1
        out.append((mtype, flags, seq, view[off + NLMSG_HDR.size:off + length]))
        off += align(length)
    return out, 0
