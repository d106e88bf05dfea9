"""The backend interface every sensor implements (the events it delivers: ``bench.core.events``).

A backend runs inside its own sensor process (``bench.harness.sensorhost``). The host calls
``start(sink)``, which returns once the sensor is collecting (ready), then ``stop()``; in
between, the backend pushes events into the sink from whatever threads it likes. Events are
columnar: kind, key (pid or port pair), path (file events; argv for exec when known),
pid, t_seen and optionally t_kernel, all monotonic ns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.core.events import EventSink
from bench.core.kinds import Kind
from bench.core.partialkey import PartialKey
from bench.core.settings import Setting


# ``Backend.facility`` of an audit consumer
AUDIT = "audit"


@dataclass
class SensorContext:
    """What the harness tells a sensor about the cell it runs in."""

    marker: str                  # the run marker every ground-truth path and argv carries
    workdir: str                 # directory the file workload writes under
    cgroup: str | None = None    # the workload's cgroup v2 path, when one was made
    tap_fd: int = -1             # ground-truth side channel (synthetic backend only)
    results_dir: str | None = None  # where a backend may save logs (e.g. a verifier log)
    # The sensor host's own cgroup (its CPU is read from there). A backend that runs an
    # external tool puts the tool in ``<sensor_cgroup>/tool``, so that the tool's CPU is
    # told apart from the CPU of our code around it.
    sensor_cgroup: str | None = None
    extra: dict = field(default_factory=dict)


class Backend:
    """Base class. Subclasses set the class attributes and implement start/stop."""

    name: str = ""
    mode: str = ""          # "kernel", "user", or "calibration"
    mechanism: str = ""
    # The kernel facility whose state it depends on, when an attacker can change that state
    # from outside the sensor (``AUDIT``: the audit rules and the enabled flag). The tamper
    # scenario chooses its techniques by it; "" for none.
    facility: str = ""
    kinds: frozenset[Kind] = frozenset()
    # Kinds (of ``kinds``) whose events carry only part of the correlation key, matched by
    # order within that part and a time window (bench.core.partialkey); the rest are
    # matched on their full key.
    partial_keys: dict[Kind, PartialKey] = {}
    settings: dict[str, Setting] = {}
    needs_tap = False       # wants the ground-truth side channel (calibration only)
    # A control that reports no kind but whose cells run anyway, for their cost columns
    # (the null backend); any other backend with no kind of the workload is not run.
    runs_without_kinds = False
    # Whether a run without -b includes it. A control that only means something next to
    # its other arms (injected_cost, run by `sensorbench calibrate`) says no, and so does a
    # tool whose start and stop take seconds of every cell (bpftrace).
    in_default_run = True
    # How long the event count must stay unchanged after the workload ends for the sensor
    # to count as drained: far longer than an event-driven consumer's delivery (ms), and
    # paid by every cell; polling backends need a few intervals, slow tools say so.
    quiet_s = 0.2
    description = ""
    # A real tool: the reference backend of ours that consumes the same kernel facility
    # (fatrace -> fanotify). The report sets each reference sensor next to its tool, so
    # that kernel vs user compares mechanisms, not our code with someone else's.
    same_mechanism: str | None = None
    # The content updates it takes while running (the bad-update scenario): "rules" (a
    # channel file, bench.backends._content) and/or "program" (new kernel code). Why not,
    # when it takes none, is ``no_update``.
    update_cases: tuple[str, ...] = ()
    no_update = "no content update path: its configuration is fixed when it starts"

    def __init__(self, settings: dict[str, Any], ctx: SensorContext):
        self.cfg = settings
        self.ctx = ctx

    @classmethod
    def available(cls) -> str | None:
        """None when the backend can run here, else one line saying why not."""
        return None

    _fatal: str | None = None

    @property
    def fatal(self) -> str | None:
        """Why collection died mid-cell (the harness then fails the cell), else None: what
        the backend set itself, else the ``error`` of its ``reader`` thread, when it has one."""
        return self._fatal or getattr(getattr(self, "reader", None), "error", None)

    @fatal.setter
    def fatal(self, reason: str | None) -> None:
        # backends that watch a child tool (peers) record its failure directly
        self._fatal = reason

    @classmethod
    def notes(cls) -> list[str]:
        """Lines for ``doctor`` about options that cannot work here although the backend
        can (e.g. a hook type this kernel refuses)."""
        return []

    @classmethod
    def quiet_for(cls, settings: dict[str, Any]) -> float:
        return cls.quiet_s

    @classmethod
    def has_limit(cls, settings: dict[str, Any]) -> bool:
        """Whether a search of its max sustainable rate can find one below the generator's
        (a calibration arm with no capacity of its own keeps up with anything: its search
        would only find the generator's limit, at the cost of every probe)."""
        return True

    def start(self, sink: EventSink) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def update(self, case: str, content: str, sink: EventSink) -> str:
        """Apply a content update while collecting; returns what happened, in one line.
        Raises ``UpdateRefused`` when it was refused and nothing changed. Any other
        exception is the sensor's own code failing on the content: the sensor host
        treats it as a crash. The default, for our user-space consumers: the channel file
        is parsed (``unsafe_update`` trusts its header) and muted kinds are dropped at the
        sink."""
        from bench.backends import _content
        from bench.core.errors import UpdateRefused

        if case != "rules" or "rules" not in self.update_cases:
            raise UpdateRefused(f"no {case} update path")
        try:
            rules = _content.parse(content, unsafe=bool(self.cfg.get("unsafe_update")))
        except _content.BadContent as e:
            raise UpdateRefused(f"parser refused the channel file: {e}") from None
        sink.mute({k for k, a in rules.items() if a == "mute"})
        return f"applied: {len(rules)} record(s)"

    def abort(self) -> None:
        """Undo what this sensor set up outside its own file descriptors, at once: called by
        the sensor host's watchdog when ``stop`` did not finish in time, from another
        thread while ``stop`` may still be stuck, just before the process exits. It must not
        wait for the backend's threads or locks. What fds own (BPF programs and links,
        fanotify and inotify marks, sockets) the kernel releases at exit anyway, so the
        default does nothing."""

    @classmethod
    def recover_stale(cls) -> str | None:
        """Undo what a sensor of this backend that was killed (SIGKILL, power loss aside)
        left behind outside its process, e.g. audit rules. Called by the harness after a
        sensor died uncleanly and by the run's janitor after the harness died. Returns
        what was undone (None: nothing to do). Must be safe while other runs are going."""
        return None

    def stats(self) -> dict[str, Any]:
        """What the sensor says about the cell. Keys the harness puts in ``cells.csv``:
        ``self_reported_lost`` (int, or None when the facility has no loss counter),
        ``kernel_ns_per_event`` (in-kernel cost, eBPF run-time stats), ``helper_cpu_s``
        (CPU of kernel-side helpers outside the sensor's process tree, e.g. kauditd),
        ``parse_errors`` (records or lines that could not be decoded). Everything else
        (queue sizes, versions, command lines) is kept in ``meta.json``."""
        return {"self_reported_lost": None}


def is_root() -> bool:
    import os

    return hasattr(os, "geteuid") and os.geteuid() == 0
