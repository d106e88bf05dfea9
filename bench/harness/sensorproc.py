"""Harness side of a sensor process: start it, wait until ready, ask for counts, stop it.

The sensor runs ``bench.harness.sensorhost`` in a child process so its CPU and memory are its own
and its crash is a measured outcome (a ``failed`` cell), never the harness's death.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.backends.base import SensorContext
from bench.core import events
from bench.core.osapi import popen_group, stop_group
from bench.harness.pipes import PipeReader
from bench.core.errors import SensorFailed
from bench.core.clock import now_ns


def tail(path: Path | None, n: int = 3) -> str:
    """The last non-empty lines of a log, joined into one line."""
    if path is None or not path.exists():
        return ""
    lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return " | ".join(lines[-n:])


class SensorProcess:
    def __init__(self, backend: str, settings: dict, ctx: SensorContext, events_path: Path,
                 log_path: Path, pass_fds: tuple[int, ...] = (), spool: Path | None = None,
                 forward_ms: float = 5.0):
        # the sensor host builds the same SensorContext from these fields
        cfg = {"backend": backend, "settings": settings, "ctx": dataclasses.asdict(ctx),
               "events": str(events_path), "parent": os.getpid()}
        if spool is not None:
            cfg.update(spool=str(spool), forward_ms=forward_ms)
        self.spool = spool
        self.events_path = events_path
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.harness.sensorhost", json.dumps(cfg)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            pass_fds=pass_fds, **popen_group())
        self.pid = self.proc.pid
        self._buf = b""
        self._reader = PipeReader(self.proc.stdout.fileno())

    def _died(self, what: str) -> SensorFailed:
        code = self.proc.poll()
        how = (f"killed by signal {-code}" if code is not None and code < 0
               else f"exited with code {code}" if code is not None else "stopped answering")
        detail = tail(self.log_path)
        return SensorFailed(f"sensor {how} {what}" + (f": {detail}" if detail else ""))

    def _line(self, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            chunk = self._reader.read(left) if left > 0 else None
            if not chunk:
                raise self._died(what)
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def _send(self, cmd: str, what: str) -> None:
        try:
            self.proc.stdin.write(cmd.encode() + b"\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died(what) from None

    def wait_ready(self, timeout: float = 60.0) -> None:
        msg = self._line(timeout, "while starting")
        if "error" in msg:
            raise SensorFailed(msg["error"])
        # when the sensor began collecting, by its own clock reading (CLOCK_MONOTONIC)
        self.ready_ns = int(msg.get("t_ns") or now_ns())

    def count(self) -> int:
        self._send("count", "during the cell")
        msg = self._line(10.0, "during the cell")
        if msg.get("error"):
            raise SensorFailed(msg["error"])
        return int(msg["count"])

    def update(self, case: str, content: str, timeout: float = 180.0) -> dict:
        """Send a content update; its answer ({"update": "applied"|"refused", "detail"}).
        SensorFailed when the sensor died of it."""
        self._send("update " + json.dumps({"case": case, "content": content}),
                   "on a content update")
        return self._line(timeout, "on a content update")

    def drain(self, quiet_s: float, max_s: float) -> tuple[int, bool]:
        """Wait until the event count stays unchanged for ``quiet_s`` (at most ``max_s``).
        Returns (count, drained)."""
        start = last_change = time.monotonic()
        last = self.count()
        while True:
            time.sleep(min(0.05, quiet_s / 4))
            now = time.monotonic()
            n = self.count()
            if n != last:
                last, last_change = n, now
            elif now - last_change >= quiet_s:
                return n, True
            if now - start >= max_s:
                return n, False

    def stop(self, timeout: float = 60.0) -> tuple[dict, dict]:
        """Stop collection; returns (events columns, stats)."""
        self._send("stop", "while stopping")
        msg = self._line(timeout, "while stopping")
        self.proc.wait(timeout=10)
        if not self.events_path.exists():
            raise self._died("without writing its events")
        cols = events.load(self.events_path)
        stats = dict(msg.get("stats") or {})
        if msg.get("error"):
            stats["stop_error"] = msg["error"]
        return cols, stats

    @property
    def died_uncleanly(self) -> bool:
        """The host ended without undoing its own state: killed by a signal other than the
        SIGTERM it handles, or ended by its stop watchdog."""
        from bench.harness.sensorhost import EXIT_WATCHDOG

        code = self.proc.returncode
        return code is not None and (code == EXIT_WATCHDOG or (code < 0 and code != -15))

    def kill(self) -> None:
        """Make sure nothing of the sensor survives. End of stdin makes the host stop on
        its own, bounded by its watchdog (it undoes its kernel state); a host that is still
        there after that, and whatever it started in its group, gets SIGKILL."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        # No signal first: the end of stdin is the request. The group's SIGKILL after it
        # also reaches what may outlive the host (an external tool's children).
        stop_group(self.proc, [(None, 8.0)])
        try:
            self.proc.stdout.close()
        except OSError:
            pass
        self._reader.close()
        self._log.close()
