"""``ebpf``: the kernel-mode reference sensor (libbpf, tracepoints, one BPF ring buffer).

start(): load sensor.bpf.o with the cell's settings (ring size, in-kernel cgroup filter,
our own pid), turn on bpf_stats, start the consumer thread, attach every program. stop():
detach, drain what the ring still holds, read the counters (reserve failures = self-reported
loss, run time per program = in-kernel cost), release everything. Everything is fd-owned,
so a killed sensor leaves nothing loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.backends._common import HANDOFF_MS, ensure_tracefs
from bench.core.events import EventSink
from bench.backends.base import Backend, SensorContext
from bench.backends.ebpf import libbpf as lb
from bench.backends.ebpf import probe
from bench.backends.ebpf.consumer import Consumer
from bench.backends.ebpf.loader import BpfSensor, cgroup_id, drop_empty_log
from bench.core.errors import BackendUnavailable
from bench.core.kinds import ALL_KINDS, Kind
from bench.core.settings import Setting, one_of, positive

HOOKS = ("tracepoint", "tp_btf", "fentry", "lsm")
# Process programs in two flavours (sensor.bpf.c); the hooks setting picks one.
_RAW_TP = frozenset({"sb_fork", "sb_exec", "sb_exit"})
_TP_BTF = frozenset({"sb_fork_btf", "sb_exec_btf", "sb_exit_btf"})
# Syscall programs in two flavours too; the syscalls setting picks one. A name ending in
# '*' stands for every program it starts (the loader's rule).
_DISPATCH = frozenset({"sb_sys_enter", "sb_sys_exit"})
_PER_SYSCALL = frozenset({"sb_tp_*", "sb_guard_*"})
SB_MAX_RULES = 8   # event.h
# Self-protection (sensor.bpf.c, protect=1): the programs, and the tamper map's slots.
_GUARDS = frozenset({"sb_guard_*"})
_TAMPER = {1: "kill of the sensor (signal {arg})", 2: "ptrace of the sensor (request {arg})",
           3: "bpf() on its links or programs by id (command {arg})"}


def _ringbuf_kb(v: int) -> str | None:
    if v < 4 or v & (v - 1):
        return "must be a power of two >= 4 (the ring is whole pages)"
    if v > 1 << 20:
        return "must be <= 1048576 (1 GiB)"
    return None


class EbpfBackend(Backend):
    name = "ebpf"
    mode = "kernel"
    mechanism = "eBPF tracepoints + raw tracepoints, libbpf ring buffer"
    kinds = ALL_KINDS
    description = "reference kernel-mode sensor: CO-RE BPF programs, ring buffer, bpf_stats"
    settings = {
        "ringbuf_kb": Setting(int, 4096, "BPF ring buffer size in KiB (power of two)",
                              _ringbuf_kb),
        "filter": Setting(str, "none", "none: see the whole machine; cgroup: drop events "
                          "outside the workload's cgroup in the kernel",
                          one_of("none", "cgroup")),
        "hooks": Setting(str, "tracepoint", "tracepoint: syscall tracepoints + raw tracepoints "
                         "for processes; tp_btf: BTF-typed process tracepoints instead; "
                         "fentry / lsm: probed, refused where the kernel refuses them",
                         one_of(*HOOKS)),
        "wakeup": Setting(str, "threshold", "threshold: records are submitted without "
                          "waking the consumer, which looks every poll_ms; a wake-up is "
                          "forced once wakeup_kb are pending, so a burst cannot fill the ring "
                          "behind a sleeping consumer (Falco's modern probe submits without "
                          "wake-ups too); event: every record wakes a waiting consumer (lowest "
                          "latency, an irq_work self-IPI per record)",
                          one_of("threshold", "event")),
        "wakeup_kb": Setting(int, 256, "wakeup=threshold: KiB pending that force a wake-up "
                             "(at most half the ring)", positive),
        "poll_ms": Setting(int, 1, "how often the consumer looks at the ring while records "
                           "come (ms): the latency bound of records submitted without a "
                           "wake-up; after two empty looks it sleeps and the next record "
                           "wakes it", positive),
        "handoff_ms": HANDOFF_MS,
        "syscalls": Setting(str, "raw", "raw: two raw tracepoints (raw_syscalls sys_enter/"
                            "sys_exit) dispatching on the syscall number, as Falco's modern "
                            "probe does: run on every syscall, detached in microseconds; "
                            "tracepoint: one syscall tracepoint per syscall and side: run "
                            "only on their syscall, but ~30 perf-event links that take about "
                            "a second to detach", one_of("raw", "tracepoint")),
        "deliver": Setting(str, "ours", "ours: hand the harness the workload cgroup's "
                           "events (all are still decoded); all: every event",
                           one_of("ours", "all")),
        "protect": Setting(int, 1, "1: watch kill, ptrace and bpf() aimed at the sensor "
                           "(four tracepoints on rare syscalls; tamper scenario); 0: off",
                           one_of(0, 1)),
    }

    def __init__(self, settings: dict[str, Any], ctx: SensorContext):
        super().__init__(settings, ctx)
        self.bpf: BpfSensor | None = None
        self.consumer: Consumer | None = None
        self.tracefs = ""
        self.target_cgid = 0
        self.log_path: Path | None = None
        self._final: dict | None = None
        self.stats_error: str | None = None

    @classmethod
    def available(cls) -> str | None:
        return probe.missing()

    @classmethod
    def notes(cls) -> list[str]:
        # Which optional hook types this kernel accepts: probed by loading (and at once
        # releasing) a tiny program of each type.
        support = probe.hook_support()
        notes = [f"hooks={hook}: {why}" for hook, why in support.items() if why != "ok"]
        return notes + [probe.protection(support)]

    @property
    def fatal(self) -> str | None:
        return self.consumer.error if self.consumer else None

    def _check_hooks(self) -> frozenset[str]:
        """Programs to leave out for the chosen hook type, or BackendUnavailable saying why
        that hook type cannot be used here."""
        hooks = self.cfg["hooks"]
        if self.cfg["syscalls"] == "raw":
            guards = _PER_SYSCALL   # the dispatchers call the guards (protect in .rodata)
        else:
            guards = _DISPATCH | (frozenset() if self.cfg["protect"] else _GUARDS)
        if hooks == "tracepoint":
            return _TP_BTF | guards
        support = probe.hook_support().get(hooks, "unknown hook type")
        if support != "ok":
            raise BackendUnavailable(f"hooks={hooks}: {support}")
        if hooks == "tp_btf":
            return _RAW_TP | guards
        raise BackendUnavailable(f"hooks={hooks} loads on this kernel, but this sensor has no "
                                 f"{hooks} programs yet; use hooks=tracepoint or tp_btf")

    def start(self, sink: EventSink) -> None:
        why = probe.missing()
        if why:
            raise BackendUnavailable(why)
        skip = self._check_hooks()
        cgid = cgroup_id(self.ctx.cgroup)
        if self.cfg["filter"] == "cgroup":
            if cgid is None:
                raise BackendUnavailable("filter=cgroup needs the workload's cgroup v2 and this "
                                         "cell has none")
            self.target_cgid = cgid
        self.tracefs = ensure_tracefs()
        if self.ctx.results_dir:
            self.log_path = Path(self.ctx.results_dir) / f"ebpf-{self.ctx.marker}-libbpf.log"
        try:
            ring = self.cfg["ringbuf_kb"] * 1024
            # wakeup_bytes 0 is the kernel's default: wake per record. Never let a wake-up
            # wait for more than half the ring.
            wakeup = (min(self.cfg["wakeup_kb"] * 1024, ring // 2)
                      if self.cfg["wakeup"] == "threshold" else 0)
            self.bpf = BpfSensor(lb.BPF_OBJECT, ring, self.target_cgid, os.getpid(),
                                 self.log_path, wakeup, skip, bool(self.cfg["protect"]))
            self.bpf.load()
        except OSError as e:
            raise BackendUnavailable(str(e.strerror or e)) from None
        try:
            self.bpf.enable_run_stats()
        except OSError as e:  # cost accounting lost, events still fine: say so in stats
            self.stats_error = str(e.strerror or e)
        keep = cgid if self.cfg["deliver"] == "ours" else None
        self.consumer = Consumer(lb.shim(), self.bpf.ringbuf_fd, sink, keep,
                                 self.cfg["poll_ms"], self.cfg["handoff_ms"],
                                 self.bpf.consumer_fd if wakeup else -1)
        self.consumer.start()
        self.bpf.attach()
        drop_empty_log(self.log_path)

    # -- content updates (bad-update scenario) -----------------------------------------
    update_cases = ("program", "rules")

    def update(self, case: str, content: str, sink: EventSink) -> str:
        """``program``: a new version of a program is loaded first, and only a program
        that loaded could replace the attached ones; the one sent is refused by the
        verifier, so nothing is detached and no event is missed. ``rules``: the channel
        file goes into the ``rules`` map as it is, unchecked, as a pipeline that trusts its
        content would write it; the program's own bounds (muted() in sensor.bpf.c) make
        what is malformed in it a no-op."""
        from bench.core.errors import UpdateRefused

        if self.bpf is None:
            raise UpdateRefused("the sensor is not running")
        if case == "program":
            return self._update_program(content)
        if case == "rules":
            return self._update_rules(content)
        raise UpdateRefused(f"no {case} update path")

    def _update_program(self, content: str) -> str:
        from bench.backends.ebpf.loader import BpfObject
        from bench.core.errors import UpdateRefused

        log = (Path(self.ctx.results_dir) / f"ebpf-{self.ctx.marker}-update.log"
               if self.ctx.results_dir else None)
        new = BpfObject(Path(content) if content else lb.BAD_UPDATE_OBJECT, log)
        try:
            new.load()
        except BackendUnavailable as e:
            reason = new.verifier_reason() or str(e)
            raise UpdateRefused(f"verifier refused the new program ({reason}); "
                                f"{len(self.bpf.links)} programs still attached") from None
        finally:
            new.close()
            drop_empty_log(log)
        # Only a program that loaded could be swapped in; this one was built to be refused.
        return ("LOADED: the verifier accepted the unchecked read (not attached; the "
                "programs in place run on)")

    def _update_rules(self, content: str) -> str:
        import struct

        from bench.backends import _content
        from bench.core.errors import UpdateRefused

        try:
            declared, _fields, records = _content.header(content)
        except _content.BadContent as e:
            raise UpdateRefused(f"not a channel file: {e}") from None
        kinds, mutes = [], []
        for rec in records[:SB_MAX_RULES]:
            parts = rec.split(",")
            try:
                kinds.append(int(parts[0]) & 0xFFFFFFFF)
            except ValueError:
                kinds.append(0xFFFFFFFF)
            mutes.append(1 if parts[-1] == "mute" else 0)
        pad = [0] * (SB_MAX_RULES - len(kinds))
        # struct sb_rules (event.h): n as declared, whatever follows
        value = struct.pack(f"<I{SB_MAX_RULES}I{SB_MAX_RULES}I", declared & 0xFFFFFFFF,
                            *(kinds + pad), *(mutes + pad))
        self.bpf.write_map("rules", 0, value)
        return (f"written unchecked into the rules map (n={declared}, {len(records)} "
                f"record(s)); the program bounds them")

    def stop(self) -> None:
        if self.bpf is None:
            return
        try:
            self.bpf.detach()
            if self.consumer is not None:
                self.consumer.stop()
            self._final = self._collect()
        finally:
            if self.consumer is not None:
                self.consumer.close()
            self.bpf.close()
            self.bpf = None
            drop_empty_log(self.log_path)

    def tamper_seen(self) -> list[str]:
        """What the self-protection programs counted: one line per kind of attempt."""
        import struct

        out = []
        if self.bpf is None or not self.cfg["protect"]:
            return out
        for slot, what in _TAMPER.items():
            raw = self.bpf.read_map("tamper", slot, 24)
            if not raw:
                continue
            count, _t, pid, arg = struct.unpack("<QQII", raw)
            if count:
                out.append(f"{what.format(arg=arg)}: {count}x, last by pid {pid}")
        return out

    def _collect(self) -> dict:
        lost = self.bpf.percpu_sums("lost", len(Kind) + 1)
        emitted = self.bpf.percpu_sums("emitted", len(Kind) + 1)
        progs = self.bpf.prog_stats() if self.bpf.stats_fd >= 0 else {}
        run_ns = sum(p["run_time_ns"] for p in progs.values())
        runs = sum(p["run_cnt"] for p in progs.values())
        c = self.consumer
        by_kind = lambda v: {Kind(k).name: v[k] for k in range(1, len(v)) if v[k]}  # noqa: E731
        return {
            "self_reported_lost": sum(lost),
            # Per event emitted, not per program run: with syscalls=raw most runs are a
            # dispatch that returns at once, and a per-run figure would hide their sum.
            "kernel_ns_per_event": run_ns / sum(emitted) if sum(emitted) else None,
            "kernel_ns_per_run": run_ns / runs if runs else None,
            "parse_errors": c.parse_errors + int(lb.shim().bad(c.c)),
            "lost_by_kind": by_kind(lost),
            "emitted_by_kind": by_kind(emitted),
            "emitted": sum(emitted),
            "decoded": c.decoded,
            "delivered": c.delivered,
            "foreign_events": c.foreign,
            "batches": c.batches,
            "consumer_wakeups": c.wakeups,
            "consumer_sleeps": c.sleeps,
            "max_batch": c.max_batch,
            "kernel_run_time_ns": run_ns,
            "tamper_events": self.tamper_seen(),
            "kernel_run_cnt": runs,
            "recursion_misses": sum(p["recursion_misses"] for p in progs.values()),
            "programs": progs,
            "bpf_stats_error": self.stats_error,
            "load_s": self.bpf.load_s,
            "attach_s": self.bpf.attach_s,
        }

    def stats(self) -> dict:
        out = {
            "ringbuf_kb": self.cfg["ringbuf_kb"], "filter": self.cfg["filter"],
            "hooks": self.cfg["hooks"], "deliver": self.cfg["deliver"],
            "syscalls": self.cfg["syscalls"],
            "wakeup": self.cfg["wakeup"], "wakeup_kb": self.cfg["wakeup_kb"],
            "poll_ms": self.cfg["poll_ms"], "handoff_ms": self.cfg["handoff_ms"],
            "target_cgid": self.target_cgid or None, "tracefs": self.tracefs,
            "libbpf": lb.libbpf().version_string().decode() if probe.missing() is None else None,
            "hook_support": probe.hook_support(),
        }
        if self._final is None:
            out["self_reported_lost"] = None
            return out
        out.update(self._final)
        return out
