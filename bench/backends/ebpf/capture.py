"""Record raw ring-buffer records of known activity: the fixture of the decode unit tests.

``python -m bench.backends.ebpf.capture tests/fixtures/ebpf_records.json`` (root) loads the
sensor, runs a child process that does one operation of every kind with known paths and
ports, and writes the child's records exactly as the ring delivered them (ring format, hex)
together with what the child says it did. The unit tests decode those bytes without root.
Slow on purpose: a ctypes callback per record, so the bytes are libbpf's, untouched.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.backends._common import ensure_tracefs
from bench.backends.ebpf import libbpf as lb
from bench.backends.ebpf.loader import BpfSensor

CHILD = r"""
import json, os, socket, sys
d = sys.argv[1]
new, ren = f"{d}/sbcap0001-0000001.new", f"{d}/sbcap0001-0000001.ren"
fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
os.write(fd, b"x"); os.close(fd)
os.rename(new, ren); os.unlink(ren)
lst = socket.socket(); lst.bind(("127.0.0.1", 0)); lst.listen()
c = socket.socket(); c.connect(lst.getsockname()); a, _ = lst.accept()
tcp = [c.getsockname()[1], lst.getsockname()[1]]
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.bind(("127.0.0.1", 0))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b"x", r.getsockname())
udp = [u.getsockname()[1], r.getsockname()[1]]
pid = os.posix_spawn("/bin/true", ["/bin/true", "sbcap0001-arg"], {})
os.waitpid(pid, 0)
print(json.dumps({"new": new, "ren": ren, "tcp": tcp, "udp": udp, "spawned": pid}))
"""

SAMPLE_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)


def capture(out: Path) -> None:
    ensure_tracefs()
    L = lb.libbpf()
    new = lb._fn(L.lib, "ring_buffer__new", ctypes.c_void_p, ctypes.c_int, SAMPLE_CB,
                 ctypes.c_void_p, ctypes.c_void_p)
    poll = lb._fn(L.lib, "ring_buffer__poll", ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
    free = lb._fn(L.lib, "ring_buffer__free", None, ctypes.c_void_p)
    raw: list[bytes] = []
    cb = SAMPLE_CB(lambda _ctx, data, size: raw.append(ctypes.string_at(data, size)) or 0)
    bpf = BpfSensor(lb.BPF_OBJECT, 1 << 22, 0, os.getpid(), None)
    try:
        bpf.load()
        rb = lb.check_ptr(new(bpf.ringbuf_fd, cb, None, None), "ring_buffer__new")
        bpf.attach()
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.run([sys.executable, "-c", CHILD, d], capture_output=True,
                               text=True, check=True)
        did = json.loads(p.stdout)
        time.sleep(0.2)
        bpf.detach()
        while poll(rb, 100) > 0:
            pass
        free(rb)
    finally:
        bpf.close()
    # The child's records: it acted (pid) or is the subject (key) of them. Its own pid is
    # the tgid of the records whose paths it named.
    kept = []
    child = None
    for r in raw:
        _t, key, _cg, pid = struct.unpack_from("<QQQI", r)
        path_len = struct.unpack_from("<H", r, 38)[0]
        if path_len and did["new"].encode() in r[40:40 + path_len]:
            child = pid
    for r in raw:
        _t, key, _cg, pid = struct.unpack_from("<QQQI", r)
        if child is not None and (pid == child or key in (child, did["spawned"])):
            kept.append(r)
    did["pid"] = child
    blob = b"".join(struct.pack("<II", len(r), 0) + r + b"\0" * (-len(r) % 8) for r in kept)
    out.write_text(json.dumps({"kernel": os.uname().release, "did": did, "ring_hex": blob.hex()},
                              indent=1) + "\n")
    print(f"{len(kept)} records of pid {child} -> {out}")


if __name__ == "__main__":
    capture(Path(sys.argv[1]))
