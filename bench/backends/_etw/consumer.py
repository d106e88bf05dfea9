"""The backend both Windows sensors are: an ETW real-time session of ours, its events
mapped to our kinds and handed to the sink in batches.

``etw`` enables the kernel's own providers; ``sysmon`` enables the provider Sysmon's
service writes to (its driver collects). Each subclass says which providers, with which
keywords and event ids, and which mapper turns pywintrace's event dicts into rows
(``etw/parse.py``, ``sysmon/parse.py``).

pywintrace calls our callback on its consumer thread after parsing the event with TDH:
that parse is the known cost of consuming ETW from Python. The callback only stamps
t_seen and appends; the mapping, the clock conversion and ``sink.add_batch`` run on a
handoff thread every ``handoff_ms``, so the consumer thread returns to ProcessTrace at
once and ETW's buffers drain as fast as TDH allows.
"""

from __future__ import annotations

import ctypes
import threading
from collections import deque
from typing import Any

from bench.backends._common import HANDOFF_MS
from bench.backends._etw import events as ev
from bench.backends._etw import session as ses
from bench.backends.base import Backend
from bench.core.clock import now_ns
from bench.core.errors import BackendUnavailable
from bench.core.events import EventSink
from bench.core.osapi import IS_WINDOWS, is_elevated
from bench.core.settings import Setting, positive

ERROR_ALREADY_EXISTS = 183
ERROR_NO_SYSTEM_RESOURCES = 1450   # StartTrace: every logger session slot is taken


def keywords(text: str) -> int:
    """A keyword mask as given on the command line: decimal or 0x hex."""
    return int(text, 0)


class EtwConsumer(Backend):
    """Base of ``etw`` and ``sysmon``: subclasses set ``providers()`` and ``mapper()``."""

    mode = "user"
    settings = {
        "buffer_kb": Setting(int, 64, "size of each ETW buffer, KiB (BufferSize)", positive),
        "buffers": Setting(int, 64, "ETW buffers of the session (MinimumBuffers = "
                           "MaximumBuffers); too few lose events, which EventsLost and "
                           "RealTimeBuffersLost count", positive),
        "handoff_ms": HANDOFF_MS,
    }

    @classmethod
    def available(cls) -> str | None:
        if not IS_WINDOWS:
            return "Windows only"
        # Everything that stands in the way, in one line, and which providers are there
        # (doctor's answer to "can this machine run it once elevated?").
        guids = cls.provider_guids()
        missing = [f"{n} {g}" for n, g in guids.items() if not ses.provider_registered(g)]
        why = []
        if not is_elevated():
            why.append("needs an elevated session (Run as administrator)")
        if missing:
            why.append(f"provider not registered on this machine: {', '.join(missing)}")
        try:
            ses.pywintrace()
        except BackendUnavailable as e:
            why.append(str(e))
        if why and not missing:
            why.append(f"providers registered: {', '.join(guids)}")
        return "; ".join(why) or None

    @classmethod
    def provider_guids(cls) -> dict[str, str]:
        """Provider name -> GUID, for ``available`` and meta."""
        raise NotImplementedError

    def providers(self, etw) -> list:
        """pywintrace ProviderInfo objects to enable."""
        raise NotImplementedError

    def event_ids(self) -> dict[str, list[int]]:
        """Provider GUID -> the event ids its mapper reads. pywintrace drops the others
        before its TDH parse; 0.2.0 (the one on PyPI) takes one list for all providers,
        so the union is given (ids shared by two providers pass for both: the keyword
        masks keep the unwanted ones from being written at all)."""
        raise NotImplementedError

    def mapper(self):
        """An object with ``map(event_id, event) -> (kind, key, path, pid, ticks) | None``
        and a ``parse_errors`` count."""
        raise NotImplementedError

    # -- life ---------------------------------------------------------------------------
    def start(self, sink: EventSink) -> None:
        etw = ses.pywintrace()
        self.sink = sink
        self.stale = ses.stop_stale()
        self.name = ses.session_name()
        self.freq = _qpc_frequency()
        self.map = self.mapper()
        # pywintrace's thread appends, the handoff thread pops: deque's append and
        # popleft are atomic, so neither waits and no event appended mid-take is lost
        self._pending: deque[tuple] = deque()
        self._stop = threading.Event()
        self.loss: dict[str, int] = {}
        props = ses.properties(self.cfg["buffer_kb"], self.cfg["buffers"])
        self.job = etw.ETW(session_name=self.name, properties=props,
                           providers=self.providers(etw), event_callback=self._on_event,
                           ignore_exists_error=False,
                           event_id_filters=sorted({i for ids in self.event_ids().values()
                                                    for i in ids}),
                           trace_logfile=ses.logfile(self.name))
        try:
            self.job.start()
        except OSError as e:
            code = getattr(e, "winerror", None)
            if code == ERROR_ALREADY_EXISTS:
                raise BackendUnavailable(f"ETW session name {self.name} is in use") from None
            if code == ERROR_NO_SYSTEM_RESOURCES:
                raise BackendUnavailable("no free ETW session on this machine (64 run at "
                                         "most): stop one with logman stop NAME -ets") from None
            raise BackendUnavailable(f"cannot start ETW session {self.name}: {e}") from None
        self._handoff = threading.Thread(target=self._handoff_loop, name="etw-handoff",
                                         daemon=True)
        self._handoff.start()

    def _on_event(self, tufo: tuple[int, dict]) -> None:
        # pywintrace's consumer thread: stamp and go (list.append holds the GIL briefly)
        self._pending.append((now_ns(), tufo[0], tufo[1]))

    def _take(self) -> None:
        rows, pending = ev.Rows(), self._pending
        # what is there now: events appended meanwhile wait for the next take
        for _ in range(len(pending)):
            t_seen, event_id, event = pending.popleft()
            row = self.map.map(event_id, event)
            if row is not None:
                kind, key, path, pid, ticks = row
                rows.add(kind, key, path, pid, ticks, t_seen)
        cols = rows.take()
        if cols is not None:
            t_kernel = ev.qpc_to_ns_array(cols["t_kernel"], self.freq)
            self.sink.add_batch(cols["kind"], cols["key"], cols["pid"], cols["t_seen"],
                                t_kernel, cols["path"])

    def _handoff_loop(self) -> None:
        every = self.cfg["handoff_ms"] / 1000
        while not self._stop.wait(every):
            try:
                self._take()
            except Exception as e:  # noqa: BLE001 - a broken mapper fails the cell
                self.fatal = f"ETW event handoff failed: {type(e).__name__}: {e}"
                return

    def stop(self) -> None:
        try:
            self.loss = ev.session_loss(self.job.query())   # before the session goes
        except Exception:  # noqa: BLE001 - the stop's own figures follow
            pass
        self.job.stop()   # disables the providers, stops the session, joins the consumer
        # ControlTrace(STOP) wrote the session's final figures into its properties
        final = ev.session_loss(self.job.properties.get().contents)
        self.loss = {k: max(v, self.loss.get(k, 0)) for k, v in final.items()}
        self._stop.set()
        self._handoff.join()
        self._take()

    def abort(self) -> None:
        # A session outlives its process: stop it by name, without waiting for threads.
        name = getattr(self, "name", None)
        if name:
            ses.stop(name)

    @classmethod
    def recover_stale(cls) -> str | None:
        if not IS_WINDOWS:
            return None
        gone = ses.stop_stale()
        return f"stopped ETW sessions {', '.join(gone)}" if gone else None

    def stats(self) -> dict[str, Any]:
        # Events the session says it lost. A real-time buffer the consumer did not take in
        # time (RealTimeBuffersLost) holds an unknown number of events: it is kept beside,
        # in etw_loss, rather than added as if it were one event.
        lost = self.loss.get("events_lost") if self.loss else None
        return {"self_reported_lost": lost, "parse_errors": getattr(self.map, "parse_errors", 0),
                "etw_session": getattr(self, "name", None), "etw_loss": self.loss,
                "stale_sessions_stopped": getattr(self, "stale", []),
                "providers": self.provider_guids(),
                "buffer_kb": self.cfg["buffer_kb"], "buffers": self.cfg["buffers"]}


def _qpc_frequency() -> int:
    f = ctypes.c_int64(0)
    ctypes.WinDLL("kernel32").QueryPerformanceFrequency(ctypes.byref(f))
    return f.value
