"""Network workload: TCP connect/accept and UDP sends on loopback, against sockets it owns.

Even operations open a TCP connection to our listener and accept it (expected events
``net_connect`` and ``net_accept``); odd ones send one UDP datagram from a fresh socket
(``net_send``). Both are keyed by the (client port, server port) pair. Client sockets close
with SO_LINGER 0 so that closed connections do not pile up in TIME_WAIT and exhaust ports.
"""

from __future__ import annotations

import socket
import struct
import time

from bench.kinds import Kind, port_pair
from workloads.base import Workload

_LINGER_RST = struct.pack("ii", 1, 0)
_PAYLOAD = b"sensorbench-udp"


class NetworkWorkload(Workload):
    name = "network"
    kinds = frozenset({Kind.net_connect, Kind.net_accept, Kind.net_send})
    rows_per_op = 1.5
    description = "TCP connect/accept and UDP sends on loopback"

    def setup(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4096)
        self.tcp_addr = self.listener.getsockname()
        self.receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.receiver.bind(("127.0.0.1", 0))
        self.receiver.setblocking(False)
        self.udp_addr = self.receiver.getsockname()

    def op(self, i: int, t_intended: int) -> None:
        clock = time.monotonic_ns
        try:
            if i % 2 == 0:
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
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
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
