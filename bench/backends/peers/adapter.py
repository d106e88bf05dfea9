"""The shared adapter: run a real sensor tool as a child process and turn its text into events.

What every tool needs, done once:

- start the tool in its own process group (so one signal reaches all of it) with
  PR_SET_PDEATHSIG = SIGKILL (so it dies with the sensor host even on ``kill -9``), stdout
  line-buffered (``stdbuf -oL`` or the tool's own flag), ``LC_ALL=C`` for stable formats;
- a reader thread stamps each stdout line with ``now_ns()`` when it arrives and
  hands it to the tool's ``parse(line)``; lines it cannot parse are counted, and when most
  lines fail the output format has changed and the cell fails;
- a stderr thread keeps the last lines, recognises the tool's fatal messages, and the
  failure reason always quotes them;
- ``start`` returns once the tool is collecting (a header line, a message on stderr, or a
  canary the tool must report); an early exit fails the cell with the exit code;
- ``stop`` sends SIGINT to the group (the tools flush and detach on it), then SIGTERM, then
  SIGKILL, and reads what was still in the pipe;
- ``stats`` gives parse errors, loss counters, the tool's version, command line and its own
  CPU (the rest of the sensor host's CPU is this adapter's parsing).
"""

from __future__ import annotations

import collections
import functools
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from typing import NamedTuple
from collections.abc import Iterable

from bench.core.clock import now_ns
from bench.core._linux import die_with_parent, join_cgroup, kill_group
from bench.core.osapi import stop_group
from bench.core.events import NO_TIME, EventSink
from bench.backends.base import Backend, is_root
from bench.core.cpu import tree_cpu_s
from bench.core.errors import SensorFailed
from bench.core.kinds import FILE_KINDS, Kind
from bench.core.settings import Setting, one_of

# For tools that see file activity on the whole machine: keep file events under the cell's
# directory only ("cell"), or everything ("all"). The tool does the same work either way;
# the filter keeps unrelated activity out of the event count the harness drains on.
SCOPE_SETTING = Setting(str, "cell", "file events kept: 'cell' (under the cell's "
                        "directory) or 'all'", one_of("cell", "all"))


def _child_setup(cgroup: str | None = None) -> None:
    # Runs in the forked child before exec: the tool must not outlive the sensor host,
    # even when the host is SIGKILLed and cannot clean up.
    die_with_parent(signal.SIGKILL)
    # The tool's CPU is measured apart from ours (the sensor host parsing its output).
    join_cgroup(cgroup)
    # The sensor host ignores SIGINT (Ctrl-C belongs to the harness) and an ignored signal
    # stays ignored across exec: tools without their own handler would never stop on it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Ev(NamedTuple):
    """One parsed event; ``t_kernel`` in monotonic ns when the tool printed a timestamp."""

    kind: Kind
    key: int
    path: str | None
    pid: int
    t_kernel: int = NO_TIME


IGNORED: list[Ev] = []  # parse() result for a line understood but not reporting anything


def tail_lines(lines: Iterable[str], n: int = 3) -> str:
    kept = [ln.strip() for ln in lines if ln.strip()]
    return " | ".join(kept[-n:])


class ToolBackend(Backend):
    """Base class of the peers. Subclasses set ``tool``/``package`` and implement
    ``command`` and ``parse``; readiness and errors are described by patterns."""

    tool = ""                 # executable name
    package = ""              # Debian package that provides it
    # How to get line-buffered stdout: "stdbuf" wraps the command in ``stdbuf -oL``
    # (glibc stdio); "native" when the command line already asks the tool for it.
    line_buffering = "stdbuf"
    # A line that means "collecting now", and the stream it appears on; None: ready as
    # soon as the process runs (the subclass's ``wait_ready`` may do better).
    ready_pattern: re.Pattern | None = None
    ready_stream = "stdout"
    # The ready line must be the tool's first stdout line (a header): anything else there
    # means a format we do not know, and the cell fails at once instead of timing out.
    ready_must_be_first = False
    # stderr lines that mean the tool has failed even if it keeps running.
    error_pattern: re.Pattern | None = None
    # A stderr line saying the tool lost N events (N is group 1): summed into ``lost``,
    # the ``self_reported_lost`` of the cell. None: the tool says nothing of the kind.
    lost_pattern: re.Pattern | None = None
    start_timeout_s = 30.0
    stop_grace_s = 3.0
    # What stops the tool cleanly, in order, before SIGKILL (auditd stops on SIGTERM only).
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    # Output format check: after this many lines, more than this share unparsable means
    # the tool's format is not the one we know (a different version): fail the cell.
    format_check_lines = 20
    format_max_bad = 0.5

    # -- what a subclass provides ---------------------------------------------------------

    def command(self) -> list[str]:
        raise NotImplementedError

    def parse(self, line: str) -> list[Ev] | None:
        """Events of one output line, ``IGNORED`` when it says nothing we need, or None
        when the line cannot be parsed."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Side effects before the tool starts (mount tracefs, write a config)."""

    def cleanup(self) -> None:
        """Undo ``prepare``; called once after the tool has exited, also after failures."""

    def cwd(self) -> str | None:
        return None

    def wait_ready(self, deadline: float) -> None:
        """Block until the tool is collecting. Default: ``ready_pattern`` was seen."""
        while not self._ready.wait(0.05):
            self._check_alive("while starting")
            if time.monotonic() > deadline:
                raise SensorFailed(f"{self.tool} not ready after {self.start_timeout_s:.0f} s"
                                   + self._stderr_suffix())
        self._check_alive("while starting")

    def on_stderr(self, line: str) -> None:
        """Hook for tools that report loss or state on stderr (default: ``lost_pattern``)."""
        m = self.lost_pattern.search(line) if self.lost_pattern is not None else None
        if m:
            self.lost += int(m.group(1))

    def extra_stats(self) -> dict:
        return {}

    def pending_events(self) -> list[Ev]:
        """Events the parser still holds once the tool has exited (incomplete groups)."""
        return []

    # -- availability -------------------------------------------------------------------

    @classmethod
    def available(cls) -> str | None:
        if not shutil.which(cls.tool, path=_search_path()):
            return f"{cls.tool} not found (install the Debian package {cls.package})"
        if cls.line_buffering == "stdbuf" and not shutil.which("stdbuf"):
            return "stdbuf not found (install the Debian package coreutils)"
        if not is_root():
            return f"{cls.tool} needs root"
        return None

    @classmethod
    def tool_version(cls) -> str:
        """The installed package version (tools' own --version flags disagree)."""
        try:
            r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", cls.package],
                               capture_output=True, text=True, timeout=10)
            if r.returncode == 0 and r.stdout.strip():
                return f"{cls.package} {r.stdout.strip()}"
        except (OSError, subprocess.TimeoutExpired):
            pass
        return "unknown"

    # -- lifecycle ------------------------------------------------------------------------

    def init_state(self) -> None:
        """Counters and parser state, before the tool starts (tests call it directly to
        feed captured output through ``handle_line``). Subclasses extend it."""
        self.fatal: str | None = None       # read by the sensor host on every count
        self.lines = 0
        self.parse_errors = 0
        self.bad_samples: list[str] = []
        self.events = 0
        self.lost = 0
        self.proc: subprocess.Popen | None = None
        self._stopping = False
        self._ready = threading.Event()
        self._stderr = collections.deque(maxlen=20)
        self._stdout_head: list[str] = []   # first lines, for a clear "unexpected output"
        self._tool_cpu_s = float("nan")
        self._cleaned = False
        self.out_of_scope = 0
        self._prefix = (self.ctx.workdir.rstrip("/") + "/"
                        if self.cfg.get("scope") == "cell" else None)

    def start(self, sink: EventSink) -> None:
        self.sink = sink
        self.init_state()
        self._cleaned = False
        self.prepare()
        cmd = self.command()
        if self.line_buffering == "stdbuf":
            cmd = ["stdbuf", "-oL", *cmd]
        self.cmdline = cmd
        env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PATH": _search_path()}
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=self.cwd(), env=env, start_new_session=True,
                preexec_fn=functools.partial(_child_setup, self._tool_cgroup()))
        except OSError as e:
            raise SensorFailed(f"cannot start {self.tool}: {e}") from None
        self._out_thread = threading.Thread(target=self._read_stdout, name=f"{self.tool}-out",
                                            daemon=True)
        self._err_thread = threading.Thread(target=self._read_stderr, name=f"{self.tool}-err",
                                            daemon=True)
        self._out_thread.start()
        self._err_thread.start()
        if self.ready_pattern is None:
            self._ready.set()
        self.wait_ready(time.monotonic() + self.start_timeout_s)

    def _tool_cgroup(self) -> str | None:
        """``<sensor cgroup>/tool`` (made here), or None without a sensor cgroup."""
        if not self.ctx.sensor_cgroup:
            return None
        path = os.path.join(self.ctx.sensor_cgroup, "tool")
        try:
            os.makedirs(path, exist_ok=True)
        except OSError:
            return None
        return path

    def stop(self) -> None:
        proc = getattr(self, "proc", None)
        self._stopping = True
        if proc is not None:
            # The tool's own cost: the rest of the sensor host's CPU is our parsing.
            self._tool_cpu_s = tree_cpu_s(proc.pid, gone=float("nan"))
            steps = [(sig, self.stop_grace_s if i == 0 else 2.0)
                     for i, sig in enumerate(self.stop_signals)] + [(signal.SIGKILL, 5.0)]
            stop_group(proc, steps, reap_timeout=5)
            for t in (self._out_thread, self._err_thread):
                t.join(timeout=5)
            now = now_ns()
            for ev in self.pending_events():
                self.sink.add(ev.kind, ev.key, ev.path, ev.pid, now, ev.t_kernel)
        if not getattr(self, "_cleaned", True):
            self._cleaned = True
            self.cleanup()

    def abort(self) -> None:
        # The watchdog's last resort: the whole tool group, at once.
        proc = getattr(self, "proc", None)
        if proc is not None:
            kill_group(proc.pid)

    def stats(self) -> dict:
        st = {
            "self_reported_lost": getattr(self, "lost", None) if self.lost_pattern else None,
            "parse_errors": getattr(self, "parse_errors", 0),
            "lines": getattr(self, "lines", 0),
            "events_parsed": getattr(self, "events", 0),
            "file_events_out_of_scope": getattr(self, "out_of_scope", 0),
            "tool": self.tool,
            "tool_version": self.tool_version(),
            "command_line": " ".join(getattr(self, "cmdline", [])),
            "tool_cpu_s": self._tool_cpu_s if hasattr(self, "_tool_cpu_s") else None,
            "tool_exit_code": self.proc.returncode if getattr(self, "proc", None) else None,
        }
        if getattr(self, "bad_samples", None):
            st["unparsed_samples"] = self.bad_samples
        if getattr(self, "_stderr", None):
            st["stderr_tail"] = list(self._stderr)[-5:]
        st.update(self.extra_stats())
        return st

    # -- reader threads -----------------------------------------------------------------

    def _read_stdout(self) -> None:
        fd = self.proc.stdout.fileno()
        buf = b""
        clock = now_ns
        add = self.sink.add
        try:
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buf += chunk
                if b"\n" not in buf:
                    continue
                *complete, buf = buf.split(b"\n")
                for raw in complete:
                    t_seen = clock()
                    line = raw.decode("utf-8", "replace")
                    for ev in self.handle_line(line):
                        add(ev.kind, ev.key, ev.path, ev.pid, t_seen, ev.t_kernel)
            if buf:  # a last line without newline: the tool was cut off mid-line
                for ev in self.handle_line(buf.decode("utf-8", "replace")):
                    add(ev.kind, ev.key, ev.path, ev.pid, clock(), ev.t_kernel)
        except Exception as e:  # a parser bug must fail the cell, not vanish with a thread
            self.fatal = f"{self.tool} output reader failed: {type(e).__name__}: {e}"
            return
        finally:
            self._on_exit()

    def handle_line(self, line: str) -> list[Ev]:
        if not line.strip():
            return IGNORED
        self.lines += 1
        if len(self._stdout_head) < 5:
            self._stdout_head.append(line)
        if not self._ready.is_set() and self.ready_stream == "stdout" and self.ready_pattern:
            if self.ready_pattern.search(line):
                self._ready.set()
                return IGNORED
            if self.ready_must_be_first and self.fatal is None:
                self.fatal = f"{self.tool} printed an unexpected header: {line[:200]!r}"
        evs = self.parse(line)
        if evs is None:
            self.parse_errors += 1
            if len(self.bad_samples) < 5:
                self.bad_samples.append(line[:200])
            self._check_format()
            return IGNORED
        self.events += len(evs)
        if evs and self._prefix is not None:
            kept = [e for e in evs if e.kind not in FILE_KINDS
                    or (e.path or "").startswith(self._prefix)]
            self.out_of_scope += len(evs) - len(kept)
            return kept
        return evs

    def _check_format(self) -> None:
        if (self.fatal is None and self.lines >= self.format_check_lines
                and self.parse_errors > self.format_max_bad * self.lines):
            self.fatal = (f"{self.tool} output format not recognised ({self.parse_errors} of "
                          f"{self.lines} lines unparsable), e.g. {self.bad_samples[0]!r}")

    def _read_stderr(self) -> None:
        for raw in iter(self.proc.stderr.readline, b""):
            self.handle_stderr_line(raw.decode("utf-8", "replace").rstrip("\n"))

    def handle_stderr_line(self, line: str) -> None:
        if not line.strip():
            return
        self._stderr.append(line)
        if (not self._ready.is_set() and self.ready_stream == "stderr"
                and self.ready_pattern and self.ready_pattern.search(line)):
            self._ready.set()
        self.on_stderr(line)
        if (self.error_pattern is not None and self.error_pattern.search(line)
                and self.fatal is None and not self._stopping):
            self.fatal = f"{self.tool} reported an error: {tail_lines(self._stderr)}"

    def _on_exit(self) -> None:
        # stdout closed: the tool is exiting. Unless we asked it to, that is a failure.
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        self._err_thread.join(timeout=2)
        if not self._stopping and self.fatal is None:
            self.fatal = (f"{self.tool} exited early with code {code}"
                          + self._stderr_suffix())

    def _stderr_suffix(self) -> str:
        t = tail_lines(self._stderr)
        if t:
            return f": {t}"
        head = tail_lines(self._stdout_head)
        return f" (stdout: {head})" if head else ""

    def _check_alive(self, what: str) -> None:
        if self.fatal:
            raise SensorFailed(self.fatal)
        if self.proc.poll() is not None:
            self._err_thread.join(timeout=2)
            raise SensorFailed(f"{self.tool} exited with code {self.proc.returncode} {what}"
                               + self._stderr_suffix())


def _search_path() -> str:
    # Tools live in sbin; a root shell started from a user's PATH may lack it.
    path = os.environ.get("PATH", "/usr/bin:/bin")
    extra = [d for d in ("/usr/local/sbin", "/usr/sbin", "/sbin") if d not in path.split(":")]
    return ":".join([path, *extra]) if extra else path
