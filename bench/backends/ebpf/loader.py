"""Open, configure, load and attach BPF objects through libbpf; read their counters.

``BpfObject`` is what every object file needs (the sensor's, and the injected-cost
calibration's in ``cost.py``); ``BpfSensor`` adds what sensor.bpf.o needs.

Everything the kernel holds for us is owned by file descriptors of this process (program
fds, link fds, the bpf_stats fd, map fds); nothing is pinned. However the sensor process
ends, SIGKILL included, the kernel drops the links and programs with the last fd.
"""

from __future__ import annotations

import ctypes
import os
import struct
import time
from pathlib import Path

from bench.backends.ebpf import libbpf as lb
from bench.core.errors import BackendUnavailable, FacilityError


def cgroup_id(path: str | None) -> int | None:
    """The id bpf_get_current_cgroup_id() gives for tasks in the cgroup v2 at ``path``
    (its inode number, on 64-bit), or None when there is no such cgroup."""
    if not path:
        return None
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def drop_empty_log(path: Path | None) -> None:
    """Remove a libbpf log that stayed empty: only logs that say something are kept."""
    if path is not None:
        try:
            if path.stat().st_size == 0:
                path.unlink()
        except OSError:
            pass


class BpfObject:
    """One BPF object file through libbpf: open, write its loader-set constants (.rodata),
    load (libbpf's and the verifier's log to ``log_path``), attach links, read per-CPU
    counters, close. What is specific to one object lives in a subclass or its backend."""

    def __init__(self, obj_path: Path, log_path: Path | None):
        self.L = lb.libbpf()
        self.S = lb.shim()
        self.obj = None
        self.name = obj_path.name
        self.links: list[tuple[str, int]] = []  # (what, struct bpf_link *)
        self.progs: dict[str, int] = {}          # attached program name -> fd
        self.log_path = log_path
        self.load_s = self.attach_s = 0.0
        if log_path is not None:
            self.S.log_to(str(log_path).encode())
        try:
            self.obj = lb.check_ptr(self.L.open_file(str(obj_path).encode(), None),
                                    f"cannot open {obj_path.name}")
        except OSError:
            self.close()
            raise

    def write_rodata(self, data: bytes, what: str) -> None:
        """Set the object's .rodata, which must hold exactly ``what`` (``len(data)`` bytes):
        a size mismatch means the object was built from another version of the header."""
        ro = lb.check_ptr(self.L.find_map(self.obj, b".rodata"), "no .rodata in the object")
        size = ctypes.c_size_t(0)
        ptr = lb.check_ptr(self.L.map_initial_value(ro, ctypes.byref(size)), "no .rodata data")
        if size.value != len(data):
            raise BackendUnavailable(f"{self.name} .rodata is {size.value} bytes, expected "
                                     f"{len(data)} ({what}): rebuild with make")
        ctypes.memmove(ptr, data, len(data))

    def load(self) -> None:
        t0 = time.monotonic()
        ret = self.L.load(self.obj)
        self.load_s = time.monotonic() - t0
        if ret < 0:
            where = f" (libbpf and verifier log: {self.log_path})" if self.log_path else ""
            raise BackendUnavailable(f"BPF load failed: {self._culprit()}{lb.errno_text(ret)}"
                                     f"{where}")

    def attach(self) -> None:
        """Attach every loaded program where its section says (auto-attach); one that will
        not attach raises BackendUnavailable naming its section."""
        L = self.L
        t0 = time.monotonic()
        prog = L.next_program(self.obj, None)
        while prog:
            name = L.prog_name(prog).decode()
            section = L.prog_section(prog).decode()
            fd = L.prog_fd(prog)
            if fd < 0:  # not loaded (skipped)
                prog = L.next_program(self.obj, prog)
                continue
            self.progs[name] = fd
            link = L.attach(prog)
            if not link:
                e = ctypes.get_errno()
                raise BackendUnavailable(f"cannot attach {section}: {lb.errno_text(e)}")
            self.links.append((name, link))
            prog = L.next_program(self.obj, prog)
        self.attach_s = time.monotonic() - t0

    def _culprit(self) -> str:
        """'program X: ' from libbpf's log when it names the program that failed to load."""
        import re

        try:
            text = self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""
        found = re.findall(r"prog '(\w+)': failed to load", text)
        if not found:
            return ""
        verifier = "-- END PROG LOAD LOG --" in text
        return f"program {found[-1]}{' rejected by the verifier' if verifier else ''}: "

    def detach(self) -> None:
        # Destroying a tracepoint link waits for RCU grace periods in the kernel (tens of
        # milliseconds each under a hypervisor): one after the other, a dozen links take
        # over a second. Destroyed together, their waits share the same grace periods.
        # (ctypes lets go of the GIL during each call.)
        links, self.links = [link for _, link in self.links], []
        if len(links) <= 1:
            for link in links:
                self.L.link_destroy(link)
            return
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(16, len(links))) as pool:
            list(pool.map(self.L.link_destroy, links))

    def verifier_reason(self) -> str:
        """The verifier's own last word on a refused program: the line before its
        'processed N insns' summary in the log ('' when there is none)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines() \
                if self.log_path else []
        except OSError:
            return ""
        for i, ln in enumerate(lines):
            if ln.startswith("processed ") and i > 0:
                return lines[i - 1].strip()
        return ""

    def read_map(self, map_name: str, key: int, size: int) -> bytes | None:
        """One element of an array map (None when the lookup fails)."""
        fd = self.L.map_fd(self.L.find_map(self.obj, map_name.encode()))
        k = ctypes.c_uint32(key)
        buf = ctypes.create_string_buffer(size)
        if self.L.map_lookup_elem(fd, ctypes.byref(k), buf) != 0:
            return None
        return buf.raw

    def write_map(self, map_name: str, key: int, value: bytes) -> None:
        """One element of an array map, from user space (content rules)."""
        fd = self.L.map_fd(self.L.find_map(self.obj, map_name.encode()))
        k = ctypes.c_uint32(key)
        buf = ctypes.create_string_buffer(value, len(value))
        ret = self.L.map_update_elem(fd, ctypes.byref(k), buf, 0)
        if ret != 0:
            raise FacilityError(-ret, f"bpf_map_update_elem {map_name}: {lb.errno_text(ret)}")

    def percpu_sums(self, map_name: str, n_keys: int) -> list[int]:
        """Sum over CPUs of each slot of a per-CPU u64 array."""
        m = self.L.find_map(self.obj, map_name.encode())
        fd = self.L.map_fd(m)
        ncpu = self.L.num_possible_cpus()
        vals = (ctypes.c_uint64 * ncpu)()
        out = []
        for k in range(n_keys):
            key = ctypes.c_uint32(k)
            if self.L.map_lookup_elem(fd, ctypes.byref(key), vals) != 0:
                out.append(0)
            else:
                out.append(int(sum(vals)))
        return out

    def u32_keys(self, map_name: str) -> list[int]:
        """The keys of a hash map whose keys are u32, in the kernel's order."""
        fd = self.L.map_fd(self.L.find_map(self.obj, map_name.encode()))
        keys: list[int] = []
        key, nxt = ctypes.c_uint32(0), ctypes.c_uint32(0)
        prev = None   # NULL: the first key
        while self.L.map_get_next_key(fd, prev, ctypes.byref(nxt)) == 0:
            keys.append(nxt.value)
            key.value = nxt.value
            prev = ctypes.byref(key)
        return keys

    def close(self) -> None:
        self.detach()
        if self.obj:
            self.L.close(self.obj)
            self.obj = None
        if self.log_path is not None:
            self.S.log_to(None)


class BpfSensor(BpfObject):
    """One loaded instance of sensor.bpf.o."""

    def __init__(self, obj_path: Path, ringbuf_bytes: int, target_cgid: int, self_tgid: int,
                 log_path: Path | None, wakeup_bytes: int = 0,
                 skip: frozenset[str] = frozenset(), protect: bool = True):
        super().__init__(obj_path, log_path)
        self.stats_fd = -1
        try:
            self._configure(ringbuf_bytes, target_cgid, self_tgid, wakeup_bytes, protect)
            self._select(skip)
        except BaseException:
            self.close()
            raise

    def _configure(self, ringbuf_bytes, target_cgid, self_tgid, wakeup_bytes,
                   protect) -> None:
        rb = lb.check_ptr(self.L.find_map(self.obj, b"events"),
                          "no ring buffer map in the object")
        lb.check_int(self.L.map_set_max_entries(rb, ringbuf_bytes),
                     "cannot size the ring buffer")
        # struct sb_config (event.h)
        self.write_rodata(struct.pack("<QIIII", target_cgid, self_tgid, wakeup_bytes,
                                      int(protect), 0), "struct sb_config")

    def _select(self, skip: frozenset[str]) -> None:
        """Leave the programs named in ``skip`` out of the load (the other hook flavour); a
        name ending in '*' is a prefix."""
        prefixes = tuple(n[:-1] for n in skip if n.endswith("*"))
        prog = self.L.next_program(self.obj, None)
        while prog:
            name = self.L.prog_name(prog).decode()
            if name in skip or (prefixes and name.startswith(prefixes)):
                self.L.set_autoload(prog, False)
            prog = self.L.next_program(self.obj, prog)

    def load(self) -> None:
        super().load()
        self.ringbuf_fd = self.L.map_fd(self.L.find_map(self.obj, b"events"))
        self.consumer_fd = self.L.map_fd(self.L.find_map(self.obj, b"consumer"))

    def enable_run_stats(self) -> None:
        """bpf_stats on (run_time_ns / run_cnt per program) while this fd is open."""
        fd = self.L.enable_stats(lb.BPF_STATS_RUN_TIME)
        if fd < 0:
            raise FacilityError(-fd, f"bpf_enable_stats: {lb.errno_text(fd)}")
        self.stats_fd = fd

    def prog_stats(self) -> dict[str, dict]:
        out = {}
        buf = (ctypes.c_uint64 * 3)()
        for name, fd in self.progs.items():
            if self.S.prog_stats(fd, buf) == 0:
                run_ns, cnt, miss = int(buf[0]), int(buf[1]), int(buf[2])
                out[name] = {"run_time_ns": run_ns, "run_cnt": cnt, "recursion_misses": miss,
                             "ns_per_run": run_ns / cnt if cnt else None}
        return out

    def close(self) -> None:
        self.detach()
        if self.stats_fd >= 0:
            os.close(self.stats_fd)
            self.stats_fd = -1
        super().close()
