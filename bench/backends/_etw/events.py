"""Pure helpers for events as pywintrace delivers them: no Windows import, tested on Linux.

pywintrace (``etw.etw.EventConsumer._processEvent``) calls the user's callback with ONE
argument, the tuple ``(event_id, event)``. ``event`` is a dict: ``EventHeader`` (the
EVENT_HEADER: ``ProcessId``, ``ThreadId``, ``TimeStamp`` as a Python int,
``ProviderId`` as ``str(GUID)`` i.e. ``{UPPER-CASE}`` with braces, ``EventDescriptor``
with ``Id``, ``Version``, ``Channel``, ``Level``, ``Opcode``, ``Task``, ``Keyword``),
``Task Name`` (the manifest's task name upper-cased once TDH parsed the event; the
provider GUID if it did not), ``Description`` (the manifest's message template, or ''),
and the provider's fields under their manifest names. Field values are TdhFormatProperty's
text: pywintrace >= 0.3.0 turns xs:int/unsignedInt/long/unsignedLong into int and
xs:boolean into bool and leaves everything else a string (PIDs with outType win:PID,
ports with win:Port, pointers as ``0x...`` hex, GUIDs, addresses); 0.2.0 converts
nothing (its test is inverted), so every field is a string. ``to_int`` reads both.

``TimeStamp`` is raw QPC ticks only when the session has ClientContext = 1 and the
consumer opened it with PROCESS_TRACE_MODE_RAW_TIMESTAMP; otherwise ProcessTrace converts
it to FILETIME (100 ns since 1601), which ``looks_like_filetime`` tells apart.
"""

from __future__ import annotations

import ntpath
from typing import Any, NamedTuple

import numpy as np

NS = 1_000_000_000
NO_TIME = -1              # bench.core.events.NO_TIME: no kernel timestamp
# A FILETIME of any date after 1917 is above this; QPC ticks reach it only after 300
# years of uptime at 10 MHz (a TSC-rate counter, ClientContext = 3, after 1 year at 3 GHz)
_FILETIME_FLOOR = 10 ** 17


class Header(NamedTuple):
    pid: int          # EventHeader.ProcessId: the process the event was logged in
    tid: int
    event_id: int     # EventDescriptor.Id (for "NT Kernel Logger" events the id is 0
                      # and the opcode says which event; we use manifest providers)
    opcode: int
    version: int      # the manifest template version (Kernel-File V0 vs V1 fields)
    ticks: int        # TimeStamp: raw QPC ticks in our sessions (see module doc)


def to_int(v: Any) -> int:
    """A numeric field as pywintrace gives it: int (0.3.0, xs:int-like outTypes), decimal
    text (0.2.0, or win:PID / win:Port / xs:unsignedShort on any version) or ``0x`` hex
    text (pointers, win:HexInt*). None (a field TDH failed to format) raises TypeError."""
    if isinstance(v, int):                 # bool is an int too (0/1)
        return v
    s = str.strip(v)                       # TypeError for None, as int(None) would
    if s[:2] in ("0x", "0X"):
        return int(s, 16)
    return int(s)


def to_bool(v: Any) -> bool:
    """xs:boolean as 0.3.0 (bool) or 0.2.0 (``true``/``false`` text) delivers it."""
    if isinstance(v, (bool, int)):
        return bool(v)
    s = str.strip(v).lower()
    if s in ("true", "1"):
        return True
    if s in ("false", "0"):
        return False
    raise ValueError(f"not a boolean: {v!r}")


def guid(text: str) -> str:
    """A provider GUID in pywintrace's spelling (StringFromCLSID): upper case, braces."""
    g = text.strip().strip("{}").upper()
    return "{" + g + "}"


def provider(ev: dict) -> str | None:
    """The provider GUID of an event (``EventHeader.ProviderId``), normalized."""
    p = ev.get("EventHeader", {}).get("ProviderId")
    return guid(p) if isinstance(p, str) else None


def header(ev: dict) -> Header:
    """The EVENT_HEADER fields we use. Raises KeyError/TypeError on a malformed dict."""
    h = ev["EventHeader"]
    d = h["EventDescriptor"]
    return Header(int(h["ProcessId"]), int(h["ThreadId"]), int(d["Id"]), int(d["Opcode"]),
                  int(d["Version"]), int(h["TimeStamp"]))


def qpc_to_ns(ticks: int, freq: int) -> int:
    """QPC ticks -> ns exactly as CPython's ``time.perf_counter_ns`` does on Windows
    (Python/pytime.c: ``_PyTime_MulDiv(ticks, 10**9, freq)``, from 3.12 through
    ``_PyTimeFraction_Mul`` with the fraction reduced, which gives the same floor): the
    integer part then the remainder, so the C code never overflows. For ticks >= 0 it is
    ``ticks * 10**9 // freq``. t_kernel then shares t_seen's clock."""
    if freq <= 0:
        raise ValueError(f"QueryPerformanceFrequency must be positive, not {freq}")
    return (ticks // freq) * NS + (ticks % freq) * NS // freq


def qpc_to_ns_array(ticks: np.ndarray, freq: int) -> np.ndarray:
    """``qpc_to_ns`` over an int64 column, exact; NO_TIME (-1) entries stay -1. The
    remainder product stays in int64 while freq < 9.2 GHz (QPC runs at 10 MHz, or at
    3,579,545 Hz on ACPI-timer machines)."""
    if freq <= 0:
        raise ValueError(f"QueryPerformanceFrequency must be positive, not {freq}")
    t = np.asarray(ticks, dtype=np.int64)
    out = (t // freq) * NS + (t % freq) * NS // freq
    return np.where(t == NO_TIME, NO_TIME, out)


def looks_like_filetime(ticks: int) -> bool:
    """True when a TimeStamp is a FILETIME rather than QPC ticks: the consumer was opened
    without PROCESS_TRACE_MODE_RAW_TIMESTAMP (pywintrace's default logfile lacks it)."""
    return ticks >= _FILETIME_FLOOR


# EVENT_TRACE_PROPERTIES counters, what we call them
_LOSS_FIELDS = {"EventsLost": "events_lost", "RealTimeBuffersLost": "buffers_lost",
                "LogBuffersLost": "log_buffers_lost", "BuffersWritten": "buffers_written",
                "NumberOfBuffers": "buffers", "FreeBuffers": "free_buffers"}


def session_loss(props: Any) -> dict[str, int]:
    """The loss counters of a session from what ``ETW.query()`` returns: the
    EVENT_TRACE_PROPERTIES ctypes structure itself (``props.get().contents``, fields as
    attributes), or a dict with the same field names (recorded fixtures).

    ``events_lost`` (EventsLost) counts events; ``buffers_lost`` (RealTimeBuffersLost)
    counts buffers the real-time consumer did not take in time, each holding many events;
    ``log_buffers_lost`` is for file sessions. All are cumulative since the session
    started. pywintrace's ``query()`` ignores ControlTrace's status: when the query failed
    every counter reads 0 (and ``buffers``, NumberOfBuffers, is 0, which a live session
    never has)."""
    get = props.get if isinstance(props, dict) else (lambda k, d=0: getattr(props, k, d))
    return {ours: int(get(theirs, 0) or 0) for theirs, ours in _LOSS_FIELDS.items()}


class DevicePaths:
    r"""NT device paths -> DOS paths. Kernel-File and Kernel-Process name files by device
    (``\Device\HarddiskVolume3\Users\x``); the workload keys by drive letter
    (``C:\Users\x``). ``device_map`` is QueryDosDevice's answer per drive
    (``{"\\Device\\HarddiskVolume3": "C:"}``). The device part is matched without regard
    to case (Datadog's agent does the same); the rest of the path is kept byte for byte.
    A path on no known device is returned unchanged, so it still carries the marker and
    the correlator counts it as unmatched rather than losing it."""

    def __init__(self, device_map: dict[str, str] | None = None) -> None:
        self.map = {d.rstrip("\\").lower(): v.rstrip("\\") for d, v in (device_map or {}).items()}

    def __call__(self, path: str) -> str:
        if path.startswith("\\??\\"):            # an object-manager DOS path: \??\C:\x
            return path[4:]
        if not path.startswith("\\"):            # already C:\x (Sysmon), or relative
            return path
        # "\Device\HarddiskVolume3\rest" -> ["", "Device", "HarddiskVolume3", "rest"]
        parts = path.split("\\", 3)
        if len(parts) < 3:
            return path
        drive = self.map.get(f"\\{parts[1]}\\{parts[2]}".lower())
        if drive is None:
            return path
        return drive + "\\" + (parts[3] if len(parts) == 4 else "")


class OurPaths:
    """The key of a file path of ours, None for anyone else's: paths without the run
    marker are dropped before any other work (the machine is full of file activity); ours
    are turned into DOS form and, with ``root``, re-keyed to ``root`` + ``\\`` + the base
    name, whatever directory spelling the event used (8.3 names, case)."""

    def __init__(self, marker: str, device_map: dict[str, str] | None = None,
                 root: str | None = None) -> None:
        self.marker = marker
        self.dos = DevicePaths(device_map)
        self.root = root

    def __call__(self, path: str) -> str | None:
        if self.marker not in path:
            return None
        path = self.dos(path)
        if self.root is not None:
            path = ntpath.join(self.root, ntpath.basename(path))
        return path


class Rows:
    """Mapped events gathered between two handoffs, as numpy columns for
    ``EventSink.add_batch``. ``add`` is a list append (one tuple); ``take`` builds the
    columns and starts a new batch. Not locked: add and take from one thread, or guard
    them (the consumer maps and adds on its handoff thread)."""

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        self._rows: list[tuple] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, kind: int, key: int, path: str | None, pid: int, t_kernel: int,
            t_seen: int) -> None:
        self._rows.append((kind, key, path, pid, t_kernel, t_seen))

    def take(self) -> dict[str, np.ndarray] | None:
        """kind int16, key int64, path object, pid int64, t_kernel int64, t_seen int64;
        None when nothing was added."""
        rows, self._rows = self._rows, []
        if not rows:
            return None
        kind, key, path, pid, t_kernel, t_seen = zip(*rows)
        return {"kind": np.array(kind, np.int16), "key": np.array(key, np.int64),
                "path": np.array(path, dtype=object), "pid": np.array(pid, np.int64),
                "t_kernel": np.array(t_kernel, np.int64), "t_seen": np.array(t_seen, np.int64)}
