"""Network workload: TCP connect/accept and UDP sends on loopback, against sockets it owns.

Even operations open a TCP connection to our listener and accept it (expected events
``net_connect`` and ``net_accept``); odd ones send one UDP datagram from a fresh socket
(``net_send``). ``protocols=tcp`` makes every operation a TCP one, ``protocols=udp`` every
one a UDP send (a sensor's TCP or UDP path alone, at twice the rate). Both are keyed by
the (client port, server port) pair. Client sockets close
with SO_LINGER 0 so that closed connections do not pile up in TIME_WAIT and exhaust ports.

UDP senders bind their source port themselves, walking up a block below the kernel's
ephemeral range from a random start, so a port pair does not recur within a cell (the
kernel picks UDP source ports at random, so with thousands of sends some pairs would
repeat and two operations would share a key).

The same code runs on Windows, with the same kinds and keys; what differs is chosen once,
by ``socket_options``:

- the listener: SO_REUSEADDR on Linux; on Windows SO_REUSEADDR would let another socket
  bind the listener's port over it (port stealing), so there it is SO_EXCLUSIVEADDRUSE;
- SO_LINGER {on, 0 s}: Linux's ``struct linger`` is two ints ("ii"), Winsock's two
  u_shorts ("HH"); "ii" happens to work on a little-endian Windows too (Winsock reads the
  first four bytes), but the right layout is packed there;
- the UDP block 10000-32767 is below the ephemeral range of both systems (Linux
  32768-60999, Windows's dynamic range 49152-65535). Windows may reserve ranges inside
  it (``netsh int ipv4 show excludedportrange``: Hyper-V, WinNAT); binding there fails
  with WSAEACCES (an OSError) and the walk goes on to the next port.

Everything else (``os.urandom``, blocking connect/accept, a non-blocking receiver that
raises BlockingIOError when empty) behaves the same on both.

A TCP operation is a socket, connect, accept and two closes; a UDP one a socket, bind, sendto
and close. Rates: docs/lab-notes.md ("Workload rates").
"""

from __future__ import annotations

import os
import socket
import struct

from bench.core.clock import now_ns
from bench.core.kinds import NET_KINDS, Kind, port_pair
from bench.core.osapi import IS_WINDOWS
from bench.core.settings import Setting, one_of
from workloads.base import COMMON, Workload

_PAYLOAD = b"sensorbench-udp"
# Below the default ephemeral range on Linux (32768-60999) and Windows (49152-65535).
_UDP_PORTS = range(10_000, 32_768)


def socket_options(windows: bool = IS_WINDOWS) -> dict:
    """The platform's socket options, by name (resolved with ``getattr(socket, name)`` when
    used, since each name exists only on its own platform): ``listener`` is a list of
    (level, option, value) set on the TCP listener before bind, ``linger`` the SO_LINGER
    value that makes a client's close reset the connection."""
    if windows:
        return {"listener": [("SOL_SOCKET", "SO_EXCLUSIVEADDRUSE", 1)],
                "linger": struct.pack("HH", 1, 0)}
    return {"listener": [("SOL_SOCKET", "SO_REUSEADDR", 1)],
            "linger": struct.pack("ii", 1, 0)}


_OPTIONS = socket_options()
_LINGER_RST = _OPTIONS["linger"]


class NetworkWorkload(Workload):
    name = "network"
    kinds = NET_KINDS
    rows_per_op = 2.0  # at most (protocols=tcp)
    description = "TCP connect/accept and UDP sends on loopback"
    settings = {
        **COMMON,
        "protocols": Setting(str, "both", "both (TCP and UDP in turn), tcp or udp",
                             one_of("both", "tcp", "udp")),
    }

    def setup(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        for level, opt, value in _OPTIONS["listener"]:
            self.listener.setsockopt(getattr(socket, level), getattr(socket, opt), value)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4096)
        self.tcp_addr = self.listener.getsockname()
        self.receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.receiver.bind(("127.0.0.1", 0))
        self.receiver.setblocking(False)
        self.udp_addr = self.receiver.getsockname()
        self._udp_next = int.from_bytes(os.urandom(2), "little") % len(_UDP_PORTS)

    def _udp_socket(self) -> socket.socket:
        """A UDP socket bound to the next free port of the block."""
        for _ in range(64):
            port = _UDP_PORTS[self._udp_next % len(_UDP_PORTS)]
            self._udp_next += 1
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                u.bind(("127.0.0.1", port))
                return u
            except OSError:  # taken by someone else: the next one
                u.close()
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the kernel's choice

    def op(self, i: int, t_intended: int) -> None:
        clock = now_ns
        protocols = self.cfg["protocols"]
        try:
            if protocols == "tcp" or (protocols == "both" and i % 2 == 0):
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                t0 = clock()
                c.connect(self.tcp_addr)
                s, _ = self.listener.accept()
                t1 = clock()
                key = port_pair(c.getsockname()[1], self.tcp_addr[1])
                s.close()
                c.close()
                self.ledger.record(i, Kind.net_connect, key, None, t_intended, t0, t1)
                self.ledger.record(i, Kind.net_accept, key, None, t_intended, t0, t1)
            else:
                u = self._udp_socket()
                t0 = clock()
                u.sendto(_PAYLOAD, self.udp_addr)
                t1 = clock()
                key = port_pair(u.getsockname()[1], self.udp_addr[1])
                u.close()
                self.ledger.record(i, Kind.net_send, key, None, t_intended, t0, t1)
        except OSError:
            self.errors += 1

    def poll(self) -> None:
        # Keep the receive queue empty so sends never see a full socket.
        try:
            while True:
                self.receiver.recv(64)
        except BlockingIOError:
            pass

    def teardown(self) -> None:
        self.listener.close()
        self.receiver.close()
