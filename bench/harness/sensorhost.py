"""The sensor process: runs one backend, talks to the harness over stdin/stdout.

``python -m bench.harness.sensorhost CONFIG_JSON``. Lines out (JSON): ``{"ready": ...}`` once
collecting, or ``{"error": "..."}`` and exit 3. Lines in: ``count`` (answered with the event
count so the harness can tell when the sensor has drained), ``update JSON`` (a content
update, answered with what became of it) and ``stop`` (the backend stops,
events go to the ``events`` path of the config, stats are printed, exit 0). With a ``spool``
path in the config, the events in hand are also appended there every ``forward_ms`` while
the sensor runs, as a sensor forwards what it saw: what a killed sensor had forwarded
survives it (failure scenarios); a backend that gathers events in C hands them over at
least that often (its ``handoff_ms`` is capped at ``forward_ms``). End of stdin,
SIGTERM, and the death of the harness (PR_SET_PDEATHSIG) also stop the backend, so that
whatever it set up in the kernel is undone.

Stopping happens once, however many of those arrive and in whatever order: signal handlers
never run the stop themselves (a handler runs on the main thread, possibly in the middle of
that very stop), they only wake the main loop. Every stop is bounded in time by a watchdog:
if the backend has not stopped by the deadline, the watchdog calls ``backend.abort()``
(undo kernel state without waiting for anything) and ends the process with ``os._exit``;
an alarm a little later ends it even if the watchdog cannot run.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import sys
import threading
import time
import traceback

from bench.core import events, osapi
from bench.backends import get
from bench.backends.base import SensorContext
from bench.core.clock import now_ns

# How long a stop may take: asked for by a live harness (it waits 60 s for the answer), or
# forced (harness gone, or SIGTERM): everything of ours must be gone within 5 s of the
# harness's death, and the run's janitor kills what is left after 3.5 s.
STOP_DEADLINE_S = 30.0
FORCED_DEADLINE_S = 2.5
EXIT_WATCHDOG = 70   # the watchdog ended a stop that did not finish
# Signals that ask the host to stop: SIGTERM and SIGHUP on Linux; on Windows, CTRL_BREAK
# (SIGBREAK) sent to the host's process group by ``osapi.stop_group``.
STOP_SIGNALS = tuple(getattr(signal, n) for n in ("SIGTERM", "SIGHUP", "SIGBREAK")
                     if hasattr(signal, n))


class Terminate(BaseException):
    """A signal arrived while the backend was starting: abandon the start."""


def _say(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _one_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def _log(msg: str) -> None:
    try:
        sys.stderr.write(f"sensorhost: {msg}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class Host:
    """One backend's life in this process: start, answer the harness, stop exactly once."""

    def __init__(self, cfg: dict):
        self.cfg = cfg
        settings = dict(cfg["settings"])
        if cfg.get("spool") and "handoff_ms" in settings:
            # A sensor that forwards what it saw every forward_ms hands over what its C
            # consumer gathered at least as often: otherwise a killed one would lose up to
            # handoff_ms of events it had seen, and its blind window would start early.
            settings["handoff_ms"] = max(1, min(settings["handoff_ms"],
                                                int(cfg.get("forward_ms", 5))))
        self.backend = get(cfg["backend"])(settings, SensorContext(**cfg["ctx"]))
        self.sink = events.EventSink()
        self.phase = "starting"          # starting -> running -> stopping
        self.signals: list[int] = []
        self._stopped = threading.Event()
        # Linux: signals wake the main loop through this pipe. Windows has neither pipe2
        # nor select on pipes; its loop reads stdin lines, and a stop signal is followed
        # by the end of the process tree anyway.
        self._wake_r = self._wake_w = None
        if not osapi.IS_WINDOWS:
            self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    # -- signals ------------------------------------------------------------------------
    def install_signals(self) -> None:
        if self._wake_w is not None:
            signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the harness

    def _on_signal(self, signum, frame) -> None:
        self.signals.append(signum)
        if self.phase == "starting":
            raise Terminate(signum)
        # running: the wakeup fd wakes the main loop, which stops. stopping: nothing to
        # do, the stop under way finishes (or its watchdog ends it).

    # -- stopping -----------------------------------------------------------------------
    def _arm_watchdog(self, deadline_s: float) -> None:
        def watchdog():
            if self._stopped.wait(deadline_s):
                return
            _log(f"stop did not finish in {deadline_s:g} s: aborting")
            try:
                self.backend.abort()
            except BaseException as e:  # noqa: BLE001 - exiting regardless
                _log(f"abort failed: {_one_line(e)}")
            os._exit(EXIT_WATCHDOG)

        threading.Thread(target=watchdog, name="stop-watchdog", daemon=True).start()
        # If the watchdog itself cannot run (the GIL held by a stuck C call), the default
        # action of SIGALRM ends the process; what a kill leaves, the janitor undoes.
        # (Windows has no SIGALRM: there the harness ends the tree when its wait is over.)
        if hasattr(signal, "alarm"):
            signal.alarm(int(deadline_s) + 2)

    def begin_stop(self) -> None:
        """From here on, signals change nothing: the stop runs to its end (or its watchdog
        ends it). Ignored rather than handled, so that one arriving while the interpreter
        exits (its handlers are gone by then) cannot turn a clean exit into death by
        signal: PR_SET_PDEATHSIG keeps sending them while the harness's threads die."""
        self.phase = "stopping"
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)

    def abandon_start(self) -> None:
        """The backend's start failed or was interrupted: undo what it got to, bounded."""
        self.begin_stop()
        self._arm_watchdog(FORCED_DEADLINE_S)
        try:
            self.backend.stop()
        except Exception:
            pass
        self._stopped.set()
        if hasattr(signal, "alarm"):
            signal.alarm(0)

    def stop(self, deadline_s: float) -> dict:
        """Stop the backend and hand over what it collected. Called once, on the main
        thread, after ``begin_stop``."""
        self._arm_watchdog(deadline_s)
        error = None
        try:
            self.backend.stop()
        except Exception as e:  # report it, but still hand over what was collected
            error = _one_line(e)
        try:
            st = self.backend.stats()
        except Exception as e:
            st, error = {"self_reported_lost": None}, error or _one_line(e)
        cols = self.sink.columns()
        events.save(self.cfg["events"], cols)
        self._stopped.set()
        signal.alarm(0)
        return {"stopped": True, "events": len(cols["kind"]), "stats": st, "error": error}

    def update(self, req: dict) -> dict:
        """A content update (bad-update scenario). Refused or applied, it is answered; the
        backend's own code failing on it is a crash, as it would be in a C consumer
        reading past the end of a record: SIGABRT, nothing undone."""
        from bench.core.errors import UpdateRefused

        t0 = now_ns()
        try:
            detail = self.backend.update(req["case"], req["content"], self.sink)
            result = "partial" if detail.startswith("partially") else "applied"
        except UpdateRefused as e:
            detail, result = str(e), "refused"
        except Exception as e:  # noqa: BLE001 - the crash being modelled
            _log(f"update crashed the consumer: {_one_line(e)}")
            os.abort()
        return {"update": result, "detail": detail, "took_ms": (now_ns() - t0) / 1e6}

    # -- the conversation with the harness ----------------------------------------------
    def serve(self) -> str:
        """Answer ``count`` until ``stop``, end of stdin or a signal; returns which."""
        if self._wake_r is None:
            return self._serve_lines()
        sel = selectors.DefaultSelector()
        stdin = sys.stdin.buffer.fileno()
        sel.register(stdin, selectors.EVENT_READ, "stdin")
        sel.register(self._wake_r, selectors.EVENT_READ, "signal")
        buf = b""
        while True:
            if self.signals:
                return "signal"
            for key, _ in sel.select():
                if key.data == "signal":
                    try:
                        os.read(self._wake_r, 512)
                    except BlockingIOError:
                        pass
                    continue
                chunk = os.read(stdin, 4096)
                if not chunk:
                    return "eof"
                buf += chunk
                while b"\n" in buf:
                    line, _, buf = buf.partition(b"\n")
                    if self._answer(line) == "stop":
                        return "stop"

    def _serve_lines(self) -> str:
        """``serve`` where stdin cannot be selected (Windows): blocking line reads."""
        for line in iter(sys.stdin.buffer.readline, b""):
            if self.signals:
                return "signal"
            if self._answer(line) == "stop":
                return "stop"
        return "signal" if self.signals else "eof"

    def _answer(self, line: bytes) -> str | None:
        """One command of the harness; "stop" when it asks to stop."""
        cmd = line.decode(errors="replace").strip()
        if cmd == "count":
            _say({"count": len(self.sink), "error": self.backend.fatal})
        elif cmd.startswith("update "):
            _say(self.update(json.loads(cmd[7:])))
        elif cmd == "stop":
            return "stop"
        return None


def _spool(sink: events.EventSink, path: str, every_s: float) -> None:
    """Forward the events in hand to ``path`` every ``every_s`` from a daemon thread (it
    ends with the process; the final event file holds everything anyway)."""
    f = open(path, "ab")

    def forward():
        while True:
            time.sleep(every_s)
            cols = sink.take_new()
            if cols is not None:
                events.append_spool(f, cols)

    threading.Thread(target=forward, name="spool", daemon=True).start()


def main(argv: list[str]) -> int:
    cfg = json.loads(argv[0])
    osapi.die_with_parent(signal.SIGTERM, cfg.get("parent"))
    # Into the sensor's own cgroup first, so whatever the backend starts is counted too.
    osapi.join_group(cfg["ctx"].get("sensor_cgroup"))
    host = Host(cfg)
    host.install_signals()
    try:
        host.backend.start(host.sink)
    except (Exception, Terminate) as e:
        host.abandon_start()
        if isinstance(e, Terminate):
            return 128 + e.args[0]
        if os.environ.get("SENSORBENCH_DEBUG"):
            traceback.print_exc()
        _say({"error": _one_line(e)})
        return 3
    host.phase = "running"
    if cfg.get("spool"):
        _spool(host.sink, cfg["spool"], cfg.get("forward_ms", 5) / 1000)
    _say({"ready": True, "pid": os.getpid(), "t_ns": now_ns()})
    why = host.serve()
    host.begin_stop()
    if why == "stop":
        _say(host.stop(STOP_DEADLINE_S))
        return 0
    # Harness gone (end of stdin) or told to go (a signal): stop fast, keep the events.
    t0 = time.monotonic()
    result = host.stop(FORCED_DEADLINE_S)
    _log(f"stopped on {why} in {time.monotonic() - t0:.2f} s")
    try:
        _say(result)
    except (BrokenPipeError, OSError, ValueError):
        # Nobody is listening; keep the interpreter's final flush from failing too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 128 + host.signals[0] if host.signals else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
