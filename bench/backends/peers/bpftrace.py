"""``bpftrace`` running our own tracepoint script (``sensor.bt``): a kernel-mode peer of ``ebpf``.

The script uses tracepoints only (this kernel has no kprobes), prints one line per event
with ``nsecs`` (bpf_ktime_get_ns, CLOCK_MONOTONIC) and is run with ``-B none`` so every
line is written as soon as bpftrace reads it from its perf buffer:

    E create 1119326423452 14542 0 /var/tmp/sensorbench/sb1a2b/sb1a2b-0000000.new
    E connect 1119335276789 14542 34072:56221 -

| kind        | tracepoint(s)                                   | key               | path        |
|-------------|-------------------------------------------------|-------------------|-------------|
| proc_fork   | task:task_newtask without CLONE_THREAD          | child pid         | -           |
| proc_exec   | sched:sched_process_exec                        | pid               | filename    |
| proc_exit   | sched:sched_process_exit with group_dead        | pid               | -           |
| file_create | syscalls open/openat/creat exit, O_CREAT, ok    | 0                 | as passed   |
| file_write  | close of an fd opened for writing, after write  | 0                 | path at open|
| file_rename | syscalls rename/renameat/renameat2 exit, ok     | 0                 | new name    |
| file_delete | syscalls unlink/unlinkat exit, ok               | 0                 | as passed   |
| net_connect | sock:inet_sock_set_state SYN_SENT->ESTABLISHED  | (sport, dport)    | -           |
| net_accept  | sock:inet_sock_set_state SYN_RECV->ESTABLISHED  | (dport, sport)    | -           |
| net_send    | syscalls:sys_enter_sendto + sock:sock_send_length (UDP) | (src, dst)| -           |

Every event carries ``t_kernel`` = the script's ``nsecs``. Strings are cut at ``strlen``
bytes (bpftrace's BPFTRACE_STRLEN; above ~80 the open handler exceeds the 512-byte BPF
stack on bpftrace 0.17), so a longer path arrives truncated and cannot match. bpftrace
reports perf-buffer loss as a "Lost N events" line (on stdout; summed into
``self_reported_lost``). With ``scope=cell`` (default) file events outside the cell's
directory are dropped after parsing; the script still traces the whole machine.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess

from bench.backends._common import ensure_tracefs, has_tracepoint
from bench.backends.peers.adapter import IGNORED, SCOPE_SETTING, Ev, ToolBackend, _child_setup
from bench.core.errors import SensorFailed
from bench.core.kinds import ALL_KINDS, Kind, port_pair
from bench.core.settings import Setting, positive

_VERDICT = re.compile(r"^ERROR:|too large|invalid|unbounded|infinite loop|back-edge|"
                      r"not allowed|out of bounds")
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sensor.bt")

_KINDS = {"fork": Kind.proc_fork, "exec": Kind.proc_exec, "exit": Kind.proc_exit,
          "create": Kind.file_create, "write": Kind.file_write, "rename": Kind.file_rename,
          "delete": Kind.file_delete, "connect": Kind.net_connect, "accept": Kind.net_accept,
          "send": Kind.net_send}
# Tracepoints the script attaches to: missing ones make bpftrace fail, so say which.
_TRACEPOINTS = [("task", "task_newtask"), ("sched", "sched_process_exec"),
                ("sched", "sched_process_exit"), ("syscalls", "sys_enter_openat"),
                ("sock", "inet_sock_set_state"), ("sock", "sock_send_length")]


class BpftraceBackend(ToolBackend):
    name = "bpftrace"
    same_mechanism = "ebpf"
    tool = "bpftrace"
    package = "bpftrace"
    mode = "kernel"
    mechanism = "eBPF (bpftrace script, tracepoints, perf buffer)"
    kinds = ALL_KINDS
    description = "bpftrace with sensorbench's tracepoint script (proc, file, net)"
    line_buffering = "native"   # -B none: bpftrace flushes every line itself
    ready_pattern = re.compile(r"^READY$")
    lost_pattern = re.compile(r"^Lost (\d+) events")
    start_timeout_s = 60.0      # compiling the script takes seconds on a busy 2-core box
    quiet_s = 0.5
    # Compiling the script and detaching its probes take 4.5 s of every cell (a 0.5 s cell
    # of the quick default run takes 5 s): a fifth of that run's time for one backend of
    # sixteen. `make reference` runs it, and so does `-b bpftrace`.
    in_default_run = False
    settings = {
        "strlen": Setting(int, 80, "BPFTRACE_STRLEN: longest path/filename kept (bytes)",
                          positive),
        "scope": SCOPE_SETTING,
    }

    @classmethod
    def available(cls) -> str | None:
        reason = super().available()
        if reason:
            return reason
        if not os.path.exists(SCRIPT):
            return f"bpftrace script {SCRIPT} is missing from the installation"
        if not os.path.exists("/sys/kernel/btf/vmlinux"):
            return "kernel BTF (/sys/kernel/btf/vmlinux) missing: the script reads struct sock"
        return None

    def command(self) -> list[str]:
        return ["bpftrace", "-B", "none", SCRIPT]

    def prepare(self) -> None:
        ensure_tracefs(SensorFailed)
        missing = [f"{c}:{e}" for c, e in _TRACEPOINTS if not has_tracepoint(c, e)]
        if missing:
            raise SensorFailed(f"bpftrace script needs tracepoints this kernel lacks: "
                               f"{', '.join(missing)}")
        os.environ["BPFTRACE_STRLEN"] = str(self.cfg["strlen"])

    update_cases = ("program",)
    # The new version the bad-update scenario deploys: a loop whose bound comes from the
    # syscall's arguments. The verifier cannot prove it ends and refuses the program.
    BAD_SCRIPT = ("tracepoint:syscalls:sys_enter_openat { $i = (uint64)0; "
                  "while ($i < (uint64)args->flags + 1000000000) { $i++; } }")
    UPDATE_TIMEOUT_S = 120.0

    def update(self, case: str, content: str, sink) -> str:
        """A new script is deployed by starting it: here beside the running one, which
        stays until the new one is attached. What bpftrace says is the result."""
        from bench.core.errors import UpdateRefused

        if case != "program":
            raise UpdateRefused(f"no {case} update path")
        script = content or self.BAD_SCRIPT
        try:
            r = subprocess.run(["bpftrace", "-v", "-e", script], capture_output=True, text=True,
                               timeout=self.UPDATE_TIMEOUT_S,
                               preexec_fn=functools.partial(_child_setup,
                                                            self._tool_cgroup()))
        except subprocess.TimeoutExpired:
            return (f"LOADED: the new script ran for {self.UPDATE_TIMEOUT_S:g} s (stopped); "
                    "the running one was left in place")
        # -v prints the verifier's log: keep its verdict and bpftrace's own errors
        said = " | ".join(dict.fromkeys(
            ln.strip() for ln in (r.stderr + r.stdout).splitlines()
            if _VERDICT.search(ln) and "RLIMIT_MEMLOCK" not in ln))
        raise UpdateRefused(f"bpftrace exited {r.returncode}: {said[:400]}; the running "
                            "script stays attached")

    def parse(self, line: str) -> list[Ev] | None:
        parts = line.split(" ", 5)
        if parts[0] != "E" or len(parts) != 6:
            if line.startswith("Attaching ") or line in ("END", "READY"):
                return IGNORED
            m = self.lost_pattern.match(line)  # bpftrace prints perf-buffer loss on stdout
            if m:
                self.lost += int(m.group(1))
                return IGNORED
            return None
        _, name, t, pid, key, path = parts
        kind = _KINDS.get(name)
        if kind is None or not t.isdigit():
            return None
        try:
            if ":" in key:
                client, server = key.split(":")
                k = port_pair(int(client), int(server))
            else:
                k = int(key)
            p = int(pid)
        except ValueError:
            return None
        return [Ev(kind, k, None if path == "-" else path, p, int(t))]

    def extra_stats(self) -> dict:
        return {"strlen": self.cfg.get("strlen"), "script": SCRIPT}
