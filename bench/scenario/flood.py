"""The flood of the tamper scenario: what the workload does, as fast as one process can, for
a while, from outside the workload's cgroup (a "super producer" trying to make the sensor
drop the events that matter).

``python -m bench.scenario.flood file|process|network DIR SECONDS`` prints one line: how
many operations it did and at what rate.
"""

from __future__ import annotations

import os
import socket
import sys
import time

from bench.core.osapi import die_with_parent


def file_ops(d: str, until: float) -> int:
    os.makedirs(d, exist_ok=True)
    n = 0
    while time.monotonic() < until:
        p = f"{d}/f{n % 64}"
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, b"x")
        os.close(fd)
        os.unlink(p)
        n += 1
    return n


def process_ops(until: float) -> int:
    n = 0
    while time.monotonic() < until:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        n += 1
    return n


def network_ops(until: float) -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    n = 0
    while time.monotonic() < until:
        try:
            s.sendto(b"x", ("127.0.0.1", 9))   # discard port: nobody listens
        except OSError:
            pass
        n += 1
    s.close()
    return n


def main(argv: list[str]) -> int:
    import signal

    die_with_parent(signal.SIGKILL)
    kind, d, seconds = argv[0], argv[1], float(argv[2])
    t0 = time.monotonic()
    until = t0 + seconds
    n = (file_ops(d, until) if kind == "file" else process_ops(until) if kind == "process"
         else network_ops(until))
    took = time.monotonic() - t0
    print(f"flood: {n} {kind} operations in {took:.2f} s ({n / took:,.0f}/s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
