"""``auditd``: the Linux audit daemon itself, with a private config and rules scoped to the run.

User-mode peer of our ``audit`` backend (same rules, same record decoding), so the two
differ only in the consumer: auditd 3.0 reading kauditd's netlink stream and writing text.
It runs as ``auditd -f -n -s nochange -c <private dir>``: foreground, no fork, its own
``auditd.conf`` (``write_logs = no``, no dispatcher plugins) and, in foreground mode,
every record goes to its stdout, one line each:

    type=SYSCALL msg=audit(1795269987.055:125573): arch=c000003e syscall=59 ... key="sb..."
    type=EXECVE msg=audit(1795269987.055:125573): argc=2 a0="/bin/true" a1="sbcafe0005"
    type=PROCTITLE msg=audit(1795269987.055:125573): proctitle=2F62696E2F74727565...

Rules are loaded with ``auditctl -R`` (the way auditd is deployed) once auditd says
"Init complete"; they are the syscall lists of ``bench.backends.audit.rules``, tagged with
a key unique to the cell, the file rule limited to the cell's directory (``-F dir=``).
The host's audit state (enabled, failure, pid, rate and backlog limits, rules) is claimed
and saved before auditd starts and restored exactly after it stops, through
``bench.backends.audit.state`` (a kill -9 leaves a state file the next run restores).

Lines are regrouped by serial and decoded by the ``audit`` backend's ``Assembler``. The
foreground stream has no EOE records, so a group is complete at its PROCTITLE record (the
last one the kernel writes for a syscall); groups without one are decoded after 2 s.

| kind        | record(s)                                    | key                       |
|-------------|----------------------------------------------|---------------------------|
| proc_fork   | SYSCALL clone*/fork/vfork, success, exit=pid | child pid                 |
| proc_exec   | SYSCALL execve* + EXECVE (argv as path)      | pid                       |
| proc_exit   | SYSCALL exit_group                           | pid                       |
| file_create | open*/creat + PATH nametype=CREATE           | 0, path                   |
| file_write  | open*/creat with write access (flags) + PATH | 0, path (partial key)     |
| file_rename | rename* + PATH nametype=CREATE (new name)    | 0, path                   |
| file_delete | unlink* + PATH nametype=DELETE               | 0, path                   |
| net_connect | connect, success + SOCKADDR (server)         | server port, pid (partial)|
| net_accept  | accept* + SOCKADDR (client) + /proc (server) | (client, server) ports    |

file_write and net_connect are matched on the partial keys of ``audit``
(``rules.PARTIAL_KEYS``): the open that made the file writable, by path, before the write;
the connect by pid + server port. Unsupported, as for ``audit``: net_send (no sendto rule,
see ``rules.KINDS``). ``t_kernel`` is the record's
``audit(sec.msec)``: the kernel's coarse wall clock (millisecond text, jiffy resolution)
converted to monotonic. ``self_reported_lost`` is the growth of the kernel's audit ``lost``
counter; ``helper_cpu_s`` is kauditd's CPU (a kernel thread outside auditd's process tree).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import time

import psutil

from bench.backends.audit import rules
from bench.backends.base import AUDIT
from bench.backends.peers.adapter import IGNORED, Ev, ToolBackend, tail_lines
from bench.core.errors import SensorFailed
from bench.core.kinds import Kind
from bench.core.settings import Setting, non_negative

_CONF_PREFIX = "sb-auditd-"

# Record type names auditd prints -> numbers (the Assembler works on numbers). Names not
# listed are decoded from "UNKNOWN[nnnn]" or treated as records we do not need.
_TYPES = {"SYSCALL": 1300, "PATH": 1302, "IPC": 1303, "CONFIG_CHANGE": 1305,
          "SOCKADDR": 1306, "CWD": 1307, "EXECVE": 1309, "MMAP": 1323, "EOE": 1320,
          "BPRM_FCAPS": 1321, "PROCTITLE": 1327, "OPENAT2": 1337, "DAEMON_START": 1200,
          "DAEMON_END": 1201,
          "DAEMON_CONFIG": 1203, "DAEMON_ABORT": 1202, "SERVICE_START": 1130,
          "SERVICE_STOP": 1131, "NETFILTER_CFG": 1325, "BPF": 1334}
_PROCTITLE, _EOE = 1327, 1320
_LINE = re.compile(r"^type=(?P<type>[A-Z_0-9]+|UNKNOWN\[(?P<num>\d+)\]) msg=(?P<body>audit\(.*)$")

_CONF = """\
# sensorbench: private auditd configuration for one cell (records go to stdout with -f)
local_events = yes
write_logs = no
log_file = {dir}/audit.log
log_format = RAW
flush = NONE
freq = 0
num_logs = 1
max_log_file = 100
max_log_file_action = IGNORE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
priority_boost = 0
q_depth = {q_depth}
overflow_action = IGNORE
max_restarts = 0
plugin_dir = {dir}/plugins
name_format = NONE
"""


def rules_text(key: str, workdir: str, cfg: dict) -> str:
    """The auditctl rules file for one cell: settings, then the sensor rules, then enable."""

    def sys(names):  # only syscalls this architecture has
        _, table = rules.machine_table()
        return ",".join(n for n in names if n in table)

    k = f"-F key={key}"
    return "\n".join([
        f"-b {cfg['backlog_limit']}",
        f"--backlog_wait_time {cfg['backlog_wait_time']}",
        f"-r {cfg['rate_limit']}",
        f"-f {cfg['failure']}",
        f"-a always,exit -F arch=b64 -S {sys(('execve', 'execveat'))} {k}",
        f"-a always,exit -F arch=b64 -S {sys(('clone', 'clone3', 'fork', 'vfork'))} "
        f"-F success=1 {k}",
        f"-a always,exit -F arch=b64 -S {sys(('accept', 'accept4'))} -F success=1 {k}",
        *(f"-a always,exit -F arch=b64 -S {sys(rules.CONNECT_SYSCALLS)} -F success=1 "
          f"-F saddr_fam={fam} {k}" for fam in rules.INET_FAMILIES),
        f"-a always,exit -F arch=b64 -S {sys(rules.EXIT_SYSCALLS)} {k}",
        f"-a always,exit -F arch=b64 -S {sys(rules.FILE_SYSCALLS)} -F dir={workdir} {k}",
        "-e 1",
        "",
    ])


def datagram(mtype: int, body: bytes) -> bytes:
    """A record as kauditd sends it (netlink header + text), for the shared Assembler."""
    return struct.pack("<IHHII", 16 + len(body), mtype, 0, 0, 0) + body


class AuditdBackend(ToolBackend):
    name = "auditd"
    same_mechanism = "audit"
    tool = "auditd"
    package = "auditd"
    mode = "user"
    mechanism = "kernel audit via auditd 3 (netlink, text records)"
    facility = AUDIT
    kinds = rules.KINDS
    partial_keys = rules.PARTIAL_KEYS
    description = "auditd -f with a private config; rules loaded with auditctl"
    ready_pattern = re.compile(r"^Init complete")
    ready_stream = "stderr"
    # auditd prints its config parsing and "Unable to adjust out of memory score" on
    # stderr; these mean it is not working. Its socket running over (ENOBUFS, after it was
    # stopped or starved) is not one of them: kauditd holds the record and sends it again,
    # and auditd goes on; those lines are counted (socket_overruns).
    error_pattern = re.compile(r"^(Error(?! receiving audit netlink packet \(No buffer "
                               r"space available\))|Cannot|Failed|Unable to (open|set|bind))")
    _OVERRUN = "No buffer space available"
    stop_signals = (signal.SIGTERM,)   # auditd ignores SIGINT
    quiet_s = 0.5
    format_check_lines = 50
    settings = {
        **rules.SETTINGS,
        "q_depth": Setting(int, 20000, "auditd's internal event queue (auditd.conf)",
                           non_negative),
    }

    @classmethod
    def available(cls) -> str | None:
        reason = super().available()
        if reason:
            return reason
        if not shutil.which("auditctl", path="/usr/sbin:/sbin:/usr/bin:/bin"):
            return "auditctl not found (install the Debian package auditd)"
        from bench.backends.audit import state
        from bench.backends.audit._linux import auditd_running, holder_refusal

        st, why = state.host_status()
        if why:
            return why
        # our own auditd instance needs the audit socket free, like our audit sensor
        return holder_refusal(st.pid, st.enabled, auditd_running())

    def command(self) -> list[str]:
        return ["auditd", "-f", "-n", "-s", "nochange", "-c", self.confdir]

    def on_stderr(self, line: str) -> None:
        super().on_stderr(line)
        if self._OVERRUN in line:
            self.overruns += 1

    def init_state(self) -> None:
        super().init_state()
        from bench.backends.audit import _linux
        from bench.backends.audit.parse import Assembler, clock_offset_ns

        _, table = rules.machine_table()
        self.asm = Assembler(table, _linux.ListenPorts())
        self.overruns = 0
        self.offset_ns = clock_offset_ns()
        self._last_flush = time.monotonic()

    def prepare(self) -> None:
        from bench.backends.audit import _linux, state
        from bench.backends.audit.netlink import AuditConn

        self.claim = state.claim()   # lock, undo a dead run's leftovers, save the host's
        saved = self.claim.state
        if saved.pid or _linux.auditd_running():
            raise SensorFailed(f"an audit consumer is active (audit pid {saved.pid}): "
                               "not replacing it")
        # Named after this process, so a dead host's directory can be told from a live one's.
        self.confdir = tempfile.mkdtemp(prefix=f"{_CONF_PREFIX}{os.getpid()}-")
        os.mkdir(os.path.join(self.confdir, "plugins"), 0o700)
        conf = os.path.join(self.confdir, "auditd.conf")
        with open(os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(_CONF.format(dir=self.confdir, q_depth=self.cfg["q_depth"]))
        self.key = f"sensorbench-{self.ctx.marker}"
        self.rules_file = os.path.join(self.confdir, "sensor.rules")
        with open(self.rules_file, "w") as f:
            f.write(rules_text(self.key, os.path.realpath(self.ctx.workdir), self.cfg))
        self._conn = AuditConn
        self.kauditd = _linux.kauditd()

    def wait_ready(self, deadline: float) -> None:
        super().wait_ready(deadline)   # auditd is the audit pid now; load our rules
        r = subprocess.run(["auditctl", "-R", self.rules_file], capture_output=True,
                           text=True, timeout=30)
        if r.returncode != 0:
            raise SensorFailed("auditctl -R failed: "
                               + tail_lines((r.stderr + r.stdout).splitlines()))
        from bench.backends.audit import _linux

        with self._conn() as c:
            self.status0 = c.status()
        self.kauditd_cpu0 = _linux.cpu_s(self.kauditd)

    def parse(self, line: str) -> list[Ev] | None:
        m = _LINE.match(line)
        if not m:
            return None
        mtype = int(m["num"]) if m["num"] else _TYPES.get(m["type"])
        if mtype is None:
            return IGNORED
        errors = self.asm.parse_errors
        body = m["body"].encode("utf-8", "surrogateescape")
        out = self.asm.feed(datagram(mtype, body))
        if self.asm.parse_errors > errors:
            return None
        if mtype == _PROCTITLE:
            # auditd -f prints no EOE records. PROCTITLE is the last record the kernel
            # writes for a syscall event (audit_log_exit), so it closes the group.
            head = body[:body.find(b"):") + 2]
            out = out + self.asm.feed(datagram(_EOE, head))
        now = time.monotonic()
        if now - self._last_flush > 0.5:   # groups whose EOE never came
            self._last_flush = now
            out = out + self.asm.flush(now)
        off = self.offset_ns
        return [Ev(e.kind, e.key, e.path, e.pid, e.t_wall_ns - off) for e in out]

    def pending_events(self) -> list[Ev]:
        off = self.offset_ns
        return [Ev(e.kind, e.key, e.path, e.pid, e.t_wall_ns - off)
                for e in self.asm.flush(everything=True)]

    update_cases = ("rules",)

    def update(self, case: str, content: str, sink) -> str:
        """The way auditd's rules change on a running host: a rules file, loaded with
        ``auditctl -R``. Each record of the channel file becomes an ``-a always,exit`` line
        (a kind with no syscalls names a syscall that does not exist); what auditctl does
        with it is the result, quoted."""
        from bench.backends import _content
        from bench.core.errors import UpdateRefused

        if case != "rules":
            raise UpdateRefused(f"no {case} update path")
        try:
            _, _, records = _content.header(content)
        except _content.BadContent as e:
            raise UpdateRefused(f"not a rules file: {e}") from None
        _, table = rules.machine_table()
        lines = []
        for rec in records:
            head = rec.split(",")[0]
            try:
                names = rules.KIND_SYSCALLS.get(Kind(int(head)), ())
            except ValueError:
                names = ()
            known = ",".join(n for n in names if n in table) or f"sb_kind_{head}"
            lines.append(f"-a always,exit -F arch=b64 -S {known} -F key={self.key}-update")
        path = os.path.join(self.confdir, "update.rules")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = subprocess.run(["auditctl", "-R", path], capture_output=True, text=True,
                           timeout=30)
        said = tail_lines((r.stderr + r.stdout).splitlines())
        if r.returncode == 0:
            return f"applied: auditctl -R loaded {len(lines)} rule(s)"
        m = re.search(r"error in line (\d+)", said)
        done = int(m.group(1)) - 1 if m else 0
        if done:
            # auditctl -R applies line by line and stops at the first it cannot: what came
            # before that line is in force.
            return f"partially applied: auditctl -R loaded {done} rule(s), then: {said}"
        raise UpdateRefused(f"auditctl -R refused it: {said}")

    def cleanup(self) -> None:
        from bench.backends.audit import _linux

        errors = []
        if getattr(self, "status0", None) is not None and not hasattr(self, "status1"):
            try:
                with self._conn() as c:
                    self.status1 = c.status()
            except OSError as e:
                errors.append(f"audit status: {e}")
            self.kauditd_cpu1 = _linux.cpu_s(self.kauditd)
        claim = getattr(self, "claim", None)
        if claim is not None:
            try:
                claim.release()   # rules, enabled, pid, limits: exactly as saved
            except Exception as e:
                errors.append(str(e))
            self.claim = None
        if getattr(self, "confdir", None):
            shutil.rmtree(self.confdir, ignore_errors=True)
        if errors:
            raise SensorFailed("; ".join(errors))

    def abort(self) -> None:
        super().abort()   # auditd gone first, so it cannot re-register
        claim = getattr(self, "claim", None)
        if claim is not None:
            claim.abort()
        if getattr(self, "confdir", None):
            shutil.rmtree(self.confdir, ignore_errors=True)

    @classmethod
    def recover_stale(cls) -> str | None:
        from bench.backends.audit import state

        done = [state.recover_quietly()]
        tmp = tempfile.gettempdir()
        for name in os.listdir(tmp):
            pid = name[len(_CONF_PREFIX):].split("-", 1)[0]
            if name.startswith(_CONF_PREFIX) and pid.isdigit() and not psutil.pid_exists(int(pid)):
                shutil.rmtree(os.path.join(tmp, name), ignore_errors=True)
                done.append(f"removed {name}")
        return "; ".join(d for d in done if d) or None

    def extra_stats(self) -> dict:
        s0, s1 = getattr(self, "status0", None), getattr(self, "status1", None)
        cpu0, cpu1 = getattr(self, "kauditd_cpu0", None), getattr(self, "kauditd_cpu1", None)
        asm = getattr(self, "asm", None)
        st = {
            "self_reported_lost": (s1.lost - s0.lost) if s0 and s1 else None,
            "self_reported_lost_source": "growth of the kernel audit 'lost' counter",
            "helper_cpu_s": (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None
            else float("nan"),
            "backlog_wait_time_actual": getattr(s1, "backlog_wait_time_actual", None),
            "audit_key": getattr(self, "key", None),
            "socket_overruns": getattr(self, "overruns", 0),
        }
        if asm is not None:
            st["parse_errors"] = getattr(self, "parse_errors", 0)
            st.update(records=asm.records, incomplete_groups=asm.incomplete,
                      unkeyed_accepts=asm.unkeyed, other_records=asm.other_records,
                      # someone else's rule removal or disable, from auditd's own log
                      tamper_events=list(asm.config_changes))
        return st
