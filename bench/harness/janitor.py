"""The run's janitor: a small process that outlives the harness and cleans up after it.

The harness starts one janitor per run (``Janitor()``), in a session of its own so that
neither Ctrl-C nor the harness's death reaches it, and tells it over a pipe what exists
while it exists: sensor process groups, workload processes, cell cgroups, cell
directories and files, and which backends the run uses. When the run ends normally the
harness says ``done`` and the janitor exits. When the harness dies without saying it
(kill -9, OOM killer, a crash), the janitor sees end of file and, within 5 s:

1. kills the workloads (``cgroup.kill`` on each workload cgroup; registered pids too);
2. gives each sensor host up to ``SENSOR_GRACE_S`` to stop on its own (they see end of
   stdin and their parent-death signal, and undo their kernel state), then SIGKILLs the
   process groups still there;
3. asks every backend of the run to undo what a killed sensor left (``recover_stale``,
   e.g. audit rules and settings);
4. removes the cgroups (a sensor's included, killing whatever is still in it), directories
   and files, and the empty ``sensorbench`` cgroup.

``python -m bench.harness.janitor`` is the janitor side; ``Janitor`` the harness side.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.core.osapi import IS_WINDOWS, pid_alive

SENSOR_GRACE_S = 3.5


class Janitor:
    """Harness side: start the janitor, tell it what to clean should the harness die."""

    def __init__(self, log_path: Path | None = None) -> None:
        self._next = 0
        self.proc: subprocess.Popen | None = None
        if IS_WINDOWS:
            # Nothing for a janitor to do there: a cell's processes live in Job Objects
            # the harness holds with kill-on-close (jobobject.py), and a killed run's ETW
            # sessions are stopped by the next run's start (backends' recover_stale).
            return
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bench.harness.janitor", *([str(log_path)] if log_path else [])],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True)
        except OSError:
            self.proc = None

    def _send(self, msg: dict | str) -> None:
        if self.proc is None:
            return
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            self.proc = None  # the janitor is gone: the next run's start-up cleans instead

    def watch(self, what: str, **item) -> str:
        """Register a ``process`` (pid, group), ``cgroup`` (path) or ``path``; returns a
        handle for ``forget``."""
        self._next += 1
        handle = f"{what}-{self._next}"
        self._send({"watch": what, "id": handle, **item})
        return handle

    def forget(self, handle: str | None) -> None:
        if handle:
            self._send({"forget": handle})

    def backends(self, names: list[str]) -> None:
        self._send({"backends": sorted(set(names))})

    def close(self) -> None:
        """The run ended on its own terms: nothing for the janitor to do."""
        if self.proc is None:
            return
        self._send("done")
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.proc = None


# -- janitor side -----------------------------------------------------------------------

def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return None


def _alive(fd: int | None, pid: int) -> bool:
    if fd is not None:
        return not select.select([fd], [], [], 0)[0]  # readable once the process exited
    return pid_alive(pid)


def _kill(item: dict) -> None:
    pid, fd = item["pid"], item.get("fd")
    if not _alive(fd, pid):
        return
    try:
        if item.get("group"):
            os.killpg(pid, signal.SIGKILL)
        elif fd is not None:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        else:
            os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass


def cleanup(items: dict[str, dict], backend_names: list[str], log=print) -> None:
    from bench.harness import cgroup   # the janitor runs on Linux only

    t0 = time.monotonic()
    procs = [i for i in items.values() if i["watch"] == "process"]
    cgroups = [i for i in items.values() if i["watch"] == "cgroup"]
    for cg in cgroups:  # workloads first: sensors do not need them to stop
        if not cg.get("sensor"):  # a sensor's own cgroup goes last: it must stop itself
            cgroup.kill(Path(cg["path"]))
    for p in procs:
        if not p.get("sensor"):
            _kill(p)
    deadline = t0 + SENSOR_GRACE_S
    while time.monotonic() < deadline and any(_alive(p.get("fd"), p["pid"]) for p in procs):
        time.sleep(0.05)
    for p in procs:
        if _alive(p.get("fd"), p["pid"]):
            log(f"killing {p['pid']} (still running after {SENSOR_GRACE_S} s)")
        _kill(p)  # the whole group: a sensor's tools included
    for p in procs:  # a process group takes a moment to go
        end = time.monotonic() + 1.0
        while _alive(p.get("fd"), p["pid"]) and time.monotonic() < end:
            time.sleep(0.02)
    if backend_names:
        from bench import backends

        for name in backend_names:
            try:
                done = backends.get(name).recover_stale()
            except Exception as e:  # noqa: BLE001 - clean up the rest regardless
                done = f"{type(e).__name__}: {e}"
            if done:
                log(f"{name}: {done}")
    for cg in cgroups:
        cgroup.remove(Path(cg["path"]))
    for item in items.values():
        if item["watch"] == "path":
            p = Path(item["path"])
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    p.unlink()
                except OSError:
                    pass
    cgroup.remove_parent_if_empty()
    log(f"cleaned up after the harness in {time.monotonic() - t0:.2f} s")


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    items: dict[str, dict] = {}
    names: list[str] = []
    for raw in sys.stdin.buffer:
        try:
            msg = json.loads(raw)
        except ValueError:
            continue
        if msg == "done":
            return 0
        if not isinstance(msg, dict):
            continue
        if "watch" in msg:
            if msg["watch"] == "process":
                msg["fd"] = _pidfd(int(msg["pid"]))
            items[msg["id"]] = msg
        elif "forget" in msg:
            item = items.pop(msg["forget"], None)
            if item and item.get("fd") is not None:
                os.close(item["fd"])
        elif "backends" in msg:
            names = list(msg["backends"])
    f = None
    if argv:
        try:
            f = open(argv[0], "a")
        except OSError:
            pass

    def log(m: str) -> None:
        if f is not None:
            print(time.strftime("%H:%M:%S"), m, file=f, flush=True)

    cleanup(items, names, log)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
