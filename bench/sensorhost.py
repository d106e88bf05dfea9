"""The sensor process: runs one backend, talks to the harness over stdin/stdout.

``python -m bench.sensorhost CONFIG_JSON``. Lines out (JSON): ``{"ready": ...}`` once
collecting, or ``{"error": "..."}`` and exit 3. Lines in: ``count`` (answered with the event
count so the harness can tell when the sensor has drained) and ``stop`` (the backend stops,
events go to the ``events`` path of the config, stats are printed, exit 0). End of stdin,
SIGTERM, and the death of the harness (PR_SET_PDEATHSIG) also stop the backend, so that
whatever it set up in the kernel is undone.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback

from bench import eventfile
from bench.backends import get
from bench.backends.base import EventSink, SensorContext


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _say(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _one_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def main(argv: list[str]) -> int:
    cfg = json.loads(argv[0])
    _die_with_parent()
    cls = get(cfg["backend"])
    ctx = SensorContext(**cfg["ctx"])
    sink = EventSink()
    backend = cls(cfg["settings"], ctx)
    stopping = threading.Lock()
    stopped = {"done": False}

    def stop_once() -> dict:
        with stopping:
            if stopped["done"]:
                return {}
            stopped["done"] = True
            error = None
            try:
                backend.stop()
            except Exception as e:  # report it, but still hand over what was collected
                error = _one_line(e)
            try:
                st = backend.stats()
            except Exception as e:
                st, error = {"self_reported_lost": None}, error or _one_line(e)
            cols = sink.columns()
            eventfile.save(cfg["events"], cols)
            return {"stopped": True, "events": len(cols["kind"]), "stats": st, "error": error}

    def on_term(signum, frame):
        stop_once()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the harness
    try:
        backend.start(sink)
    except Exception as e:
        try:
            backend.stop()
        except Exception:
            pass
        if os.environ.get("SENSORBENCH_DEBUG"):
            traceback.print_exc()
        _say({"error": _one_line(e)})
        return 3
    _say({"ready": True, "pid": os.getpid()})
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "count":
            _say({"count": len(sink), "error": backend.fatal})
        elif cmd == "stop":
            break
    _say(stop_once())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
