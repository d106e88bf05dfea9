"""The proc connector socket: NETLINK_CONNECTOR bound to the CN_IDX_PROC group."""

from __future__ import annotations

import socket

from bench.backends.proc_connector.parse import (CN_IDX_PROC, PROC_CN_MCAST_IGNORE,
                                                 PROC_CN_MCAST_LISTEN, subscribe_message)

NETLINK_CONNECTOR = 11
SO_RCVBUFFORCE = 33


def open_socket(rcvbuf_bytes: int = 0) -> socket.socket:
    """A subscribed, non-blocking proc connector socket (needs CAP_NET_ADMIN)."""
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC,
                      NETLINK_CONNECTOR)
    try:
        if rcvbuf_bytes:
            # FORCE: as root, past net.core.rmem_max (the kernel doubles the value).
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf_bytes)
        s.bind((0, CN_IDX_PROC))
        s.send(subscribe_message(PROC_CN_MCAST_LISTEN, s.getsockname()[0]))
        s.setblocking(False)
    except BaseException:
        s.close()
        raise
    return s


def close_socket(s: socket.socket) -> None:
    """Unsubscribe, then close. The kernel counts listeners by LISTEN/IGNORE messages, not
    by sockets, so an IGNORE keeps its count right (a kill -9 leaves it one too high, which
    only makes it build messages nobody reads)."""
    try:
        s.setblocking(True)
        s.send(subscribe_message(PROC_CN_MCAST_IGNORE, s.getsockname()[0]))
    except OSError:
        pass
    s.close()
