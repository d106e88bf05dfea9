"""``audit``: a user-mode sensor that is the kernel audit subsystem's consumer.

Like go-audit and auditbeat, it registers itself as the audit pid over NETLINK_AUDIT,
installs syscall rules (``bench.backends.audit.rules``), and assembles the records kauditd
sends (``bench.backends.audit.parse``). The host's audit configuration is saved before and
restored after, also when the sensor is killed (``bench.backends.audit.state``).

Audit does not drop when the consumer is slow: kauditd blocks on our socket, its queue
fills up to ``backlog_limit``, then every audited syscall waits up to ``backlog_wait_time``
(jiffies) for room before the record is dropped and counted in ``lost``. So the workload
slows down first; ``backlog_wait_actual`` says how long tasks waited. ``self_reported_lost``
is the growth of the kernel's ``lost`` counter over the cell.

Two kinds it reports under a partial key (``rules.PARTIAL_KEYS``, declared as
``partial_keys`` and matched by order within the key, ``bench.analysis.correlate``):
``net_connect`` by pid + server port (the SOCKADDR record holds the destination only; the
client's port never appears, so the port pair cannot be formed), and ``file_write`` by the
path of an open with write access (write(2) names no path, and an audit ``dir`` rule only
matches syscalls that resolve one), which precedes the write it enables and so gives it no
latency. ``net_send`` is not reported: its SOCKADDR also names the destination only, and
a system-wide sendto rule would audit every datagram of the machine (``rules.KINDS``).
Accepts are keyed with the listening socket's port looked up in /proc. Timestamps are
coarse wall-clock (jiffy resolution) converted to monotonic.

``parser=c`` (default): libsbfd.so receives with recvmmsg, groups the records by serial and
decodes them in C (``bench.backends.audit.fastpath``, ``_native/audit.c``), looking at the
socket every ``poll_ms`` while records flow (``POLL_MS`` says why); Python takes batches
every ``handoff_ms`` and only looks up accepts' listening ports, once per distinct socket
of a batch. ``parser=python`` is the reference: ``parse.Assembler`` on every datagram.
"""

from __future__ import annotations

import os
import time

from bench.core.clock import now_ns
from bench.backends import _batch
from bench.backends._reader import ReaderThread
from bench.backends.audit import rules
from bench.core.events import EventSink
from bench.backends.base import AUDIT, Backend, is_root
from bench.core.errors import BackendUnavailable, BenchError
from bench.core.settings import Setting, non_negative, positive


# Why 1 ms. kauditd sends an event's records one datagram at a time, so a consumer asleep on
# the socket is woken (by an IPI, often preempting the workload) for nearly every event;
# looking every 1 ms while records flow halves the workload's and the machine's cost at
# auditd's latency. The measurements: docs/lab-notes.md, "The audit consumer looks every 1 ms".
POLL_MS = Setting(int, 1, "parser=c: while records flow, look at the socket every poll_ms "
                  "instead of being woken for each (0: woken for each; after two empty "
                  "looks it waits to be woken)", non_negative)


class AuditBackend(Backend):
    name = "audit"
    mode = "user"
    mechanism = "kernel audit via NETLINK_AUDIT (audit pid)"
    facility = AUDIT
    kinds = rules.KINDS
    partial_keys = rules.PARTIAL_KEYS
    description = "audit syscall rules; the sensor is the registered audit daemon"
    quiet_s = 0.5
    enobufs = 0
    settings = {
        **rules.SETTINGS,
        "rcvbuf_kb": Setting(int, 4096, "our socket's receive buffer (KiB)", positive),
        "parser": _batch.PARSER,
        "handoff_ms": _batch.HANDOFF_MS,
        "poll_ms": POLL_MS,
    }
    native = None   # parser=c: its fastpath.NativeAssembler

    @classmethod
    def available(cls) -> str | None:
        if not is_root():
            return "needs root (CAP_AUDIT_CONTROL to set rules and become the audit pid)"
        from bench.backends.audit import state
        from bench.backends.audit._linux import auditd_running, holder_refusal

        st, why = state.host_status()
        if why:
            return why
        return holder_refusal(st.pid, st.enabled, auditd_running()) or _batch.missing()

    def start(self, sink: EventSink) -> None:
        from bench.backends.audit import _linux, state
        from bench.backends.audit.netlink import AuditConn
        from bench.backends.audit.parse import Assembler, clock_offset_ns

        self.sink = sink
        self.claim = state.claim()
        saved = self.claim.state
        why = _linux.holder_refusal(saved.pid, saved.enabled, _linux.auditd_running())
        if why:
            self.stop()
            raise BackendUnavailable(why)
        arch, table = rules.machine_table()
        self.ports = _linux.ListenPorts()
        self.asm = Assembler(table, self.ports)
        self.key = f"sensorbench-{self.ctx.marker}"
        self.ctl = AuditConn()
        self.ev = AuditConn()
        self.ev.set_rcvbuf(self.cfg["rcvbuf_kb"] * 1024)
        self.ctl.set(failure=self.cfg["failure"], rate_limit=self.cfg["rate_limit"],
                     backlog_limit=self.cfg["backlog_limit"],
                     backlog_wait_time=self.cfg["backlog_wait_time"])
        for rule in rules.sensor_rules(self.key, os.path.realpath(self.ctx.workdir)):
            self.ctl.add_rule(rule)
        # Register from the socket that will read: the kernel sends to its port.
        self.ev.set(pid=os.getpid())
        self.ctl.set(enabled=1)
        self.offset_ns = clock_offset_ns()
        self.status0 = self.ctl.status()
        self.kauditd = _linux.kauditd()
        self.kauditd_cpu0 = _linux.cpu_s(self.kauditd)
        self.ev.sock.setblocking(False)
        self._last_flush = time.monotonic()
        if self.cfg["parser"] == "c":
            from bench.backends.audit.fastpath import NativeAssembler

            self.native = NativeAssembler(self.ev.sock.fileno(), sink, table, self.ports,
                                          self.offset_ns, self.cfg["handoff_ms"],
                                          poll_ms=self.cfg["poll_ms"])
            self.asm = self.native.asm   # config changes, samples, stopping: Python's
            self.reader = self.native.reader
        else:
            self.reader = ReaderThread(self.ev.sock.fileno(), self._drain, "audit")
        self.reader.start()

    def _emit(self, events) -> None:
        add, off, now = self.sink.add, self.offset_ns, now_ns()
        for ev in events:
            add(ev.kind, ev.key, ev.path, ev.pid, now, ev.t_wall_ns - off)

    def _drain(self) -> None:
        recv, feed = self.ev.sock.recv, self.asm.feed
        while True:
            try:
                buf = recv(16384)
            except BlockingIOError:
                break
            except OSError as e:
                import errno

                if e.errno == errno.ENOBUFS:  # cannot happen with a blocking kauditd; count
                    self.enobufs += 1
                    continue
                raise
            out = feed(buf)
            if out:
                self._emit(out)
        now = time.monotonic()
        if now - self._last_flush > 0.5:
            self._last_flush = now
            self._emit(self.asm.flush(now))

    def _quiesce(self, ctl, timeout_s: float = 1.0) -> None:
        """Before unregistering: no new records (our rules out), and give kauditd up to
        ``timeout_s`` to hand over what it still queues. Records queued when we
        unregister are dropped by the kernel without counting them as ``lost``; how many
        that was is ``lost_at_stop``."""
        from bench.backends.audit import state

        saved = self.claim.state.rules
        for rule in state.save(ctl).rules:
            if rule not in saved:
                ctl.del_rule(rule)
        deadline = time.monotonic() + timeout_s
        while ctl.status().backlog and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        from bench.backends.audit import _linux

        errors = []
        ctl = getattr(self, "ctl", None)
        if getattr(self, "asm", None) is not None:
            self.asm.stopping = True   # our own rule removals follow: not tampering
        if ctl is not None and getattr(self, "status1", None) is None:
            try:
                if getattr(self, "claim", None) is not None:
                    self._quiesce(ctl)
                self.status1 = ctl.status()
            except OSError as e:
                errors.append(f"AUDIT_GET: {e}")
            self.kauditd_cpu1 = _linux.cpu_s(getattr(self, "kauditd", None))
        claim = getattr(self, "claim", None)
        if claim is not None:
            try:
                claim.release(ctl)  # restore first: unregisters us, removes our rules
            except Exception as e:
                errors.append(str(e))
            self.claim = None
        if getattr(self, "reader", None) is not None:
            self.reader.stop()  # reads what is still in our socket first
            self.reader = None
            self._emit(self.asm.flush(everything=True))
        for name in ("ev", "ctl"):
            conn = getattr(self, name, None)
            if conn is not None:
                conn.close()
                setattr(self, name, None)
        if errors:
            raise BenchError("; ".join(errors))

    update_cases = ("rules",)

    def update(self, case: str, content: str, sink: EventSink) -> str:
        """A rules update pushed over netlink, rule by rule; the kernel validates each.
        Refused anywhere: the rules of it already added are taken out again, so the old
        rule set is what stays."""
        from bench.backends import _content
        from bench.core.errors import UpdateRefused

        if case != "rules":
            raise UpdateRefused(f"no {case} update path")
        try:
            new = rules.update_rules(content, self.key + "-update")
        except _content.BadContent as e:
            raise UpdateRefused(f"not a rules file: {e}") from None
        added = []
        try:
            for rule in new:
                self.ctl.add_rule(rule)
                added.append(rule)
        except OSError as e:
            for rule in added:
                self.ctl.del_rule(rule)
            in_force = len(self.ctl.list_rules())
            raise UpdateRefused(f"the kernel refused rule {len(added) + 1} of {len(new)} "
                                f"({e}); the {in_force} rule(s) in force are unchanged") \
                from None
        return f"applied: {len(added)} rule(s) added"

    def abort(self) -> None:
        claim = getattr(self, "claim", None)
        if claim is not None:
            claim.abort()

    @classmethod
    def recover_stale(cls) -> str | None:
        from bench.backends.audit import state

        return state.recover_quietly()

    def stats(self) -> dict:
        s0, s1 = getattr(self, "status0", None), getattr(self, "status1", None)
        a = getattr(self, "asm", None)
        lost_kernel = (s1.lost - s0.lost) if s0 and s1 else None
        lost_at_stop = s1.backlog if s1 else None
        out = {
            # Every path on which a record can go missing between the kernel and us,
            # counted apart (meta.json: lost_by_path): the kernel's 'lost' counter (queue
            # full, rate limit, no memory) and records still queued when we unregistered
            # (the kernel drops those without counting them) are summed here, in records
            # (the kernel gives up on an event at its first lost record, so mostly one per
            # event). Socket overruns (ENOBUFS) are kept apart: kauditd's send timed out
            # and it queued the record for a retry, so an overrun is a stall, not a loss.
            "self_reported_lost": (lost_kernel + lost_at_stop
                                   if lost_kernel is not None else None),
            "self_reported_lost_source": "records: kernel 'lost' growth + queued at stop",
            "lost_by_path": {"kernel_lost": lost_kernel, "queued_at_stop": lost_at_stop,
                             "socket_overruns": self._counts()["enobufs"]},
            "helper_cpu_s": (getattr(self, "kauditd_cpu1", float("nan"))
                             - getattr(self, "kauditd_cpu0", float("nan"))),
            "parse_errors": self._counts()["parse_errors"] if a else 0,
        }
        if s0 and s1:
            out.update(lost_before=s0.lost, lost_after=s1.lost, backlog_before=s0.backlog,
                       backlog_after=s1.backlog,
                       backlog_wait_actual=s1.backlog_wait_time_actual
                       - s0.backlog_wait_time_actual)
        if a:
            c = self._counts()
            out.update(records=c["records"], incomplete_events=c["incomplete"],
                       other_records=c["other_records"], unkeyed=c["unkeyed"],
                       parse_error_samples=a.bad_samples,
                       # tampering the kernel reported to us as CONFIG_CHANGE records
                       tamper_events=list(a.config_changes))
        if self.native is not None:
            c = self.native.reader.counters()
            out.update(reads=c["reads"], datagrams=c["messages"], truncated=c["truncated"],
                       wakeups=c["wakeups"], looks=c["looks"],
                       batches=self.native.reader.batches)
        out.update({k: self.cfg[k] for k in self.settings})
        return out

    def _counts(self) -> dict:
        """The decoder's counters, from C (parser=c) or the Assembler."""
        if self.native is not None:
            c = self.native.counts()
            c["enobufs"] = self.native.reader.counter("enobufs")
            return c
        a = getattr(self, "asm", None)
        if a is None:   # not started
            return dict.fromkeys(("records", "parse_errors", "incomplete", "other_records",
                                  "unkeyed"), 0) | {"enobufs": self.enobufs}
        return {"records": a.records, "parse_errors": a.parse_errors,
                "incomplete": a.incomplete, "other_records": a.other_records,
                "unkeyed": a.unkeyed, "enobufs": self.enobufs}
