"""An ETW real-time session of ours, through pywintrace: what ``etw`` and ``sysmon`` share.

- **Names.** ``sensorbench-<pid>-<hex>``. A killed harness cannot stop its session (ETW
  sessions outlive their process), so each start first stops the sessions of ours whose
  pid is gone (``stale``), and says how many it stopped.
- **Clock.** The session is opened with ClientContext = 1 (QueryPerformanceCounter) and
  consumed with PROCESS_TRACE_MODE_RAW_TIMESTAMP, so an event's TimeStamp is raw QPC ticks,
  which ``events.qpc_to_ns`` puts on ``time.perf_counter_ns``'s clock: t_kernel and t_seen
  share one clock. (Without the raw flag, ProcessTrace converts stamps to FILETIME.)
- **Loss.** ``EventsLost`` and ``RealTimeBuffersLost`` of the session (``ETW.query()``):
  events the providers could not put in a buffer, and buffers the consumer did not take
  in time.
- **pywintrace.** Imported here only, when a session starts. PyPI has 0.2.0 (the
  repository says 0.3.0): its ``ETW`` takes one ``event_id_filters`` list for all
  providers and its fields arrive as text (``events.to_int`` reads both). ``etw.common``'s
  ``on_event_callback`` imports ``Mapping`` from ``collections`` (gone in Python 3.10) when
  called, so it is never used: the callback is ours. ``etw.ETW`` parses each event with
  TDH into a dict on its own thread (``EventConsumer._processEvent``); the backends keep
  their callback short and hand rows over in batches.

Everything Windows-only is reached through functions, so this module imports on Linux.
"""

from __future__ import annotations

import ctypes
import os
import secrets

from bench.core.errors import BackendUnavailable
from bench.core.osapi import pid_alive

PREFIX = "sensorbench-"
MAX_SESSIONS = 64          # QueryAllTraces's limit on Windows 10+
_QUERY, _STOP = 0, 1       # EVENT_TRACE_CONTROL_QUERY / _STOP
_RAW_TIMESTAMP = 0x00001000  # PROCESS_TRACE_MODE_RAW_TIMESTAMP
_QPC = 1                   # WNODE_HEADER.ClientContext: QueryPerformanceCounter
_NAME_CHARS = 1024


def pywintrace():
    """The ``etw`` package (pywintrace), or BackendUnavailable saying why not."""
    try:
        import etw   # ETW, ProviderInfo, GUID; its ctypes bindings load at import
    except ImportError as e:
        raise BackendUnavailable(f"pywintrace is not installed ({e}); "
                                 "py -m pip install pywintrace") from None
    except (OSError, AttributeError) as e:   # its bindings load ole32/advapi32/tdh at import
        raise BackendUnavailable(f"pywintrace cannot load its Windows libraries: {e}") from None
    return etw


def session_name() -> str:
    return f"{PREFIX}{os.getpid()}-{secrets.token_hex(3)}"


def owner(name: str) -> int | None:
    """The pid a session name of ours carries (None: not one of ours)."""
    if not name.startswith(PREFIX):
        return None
    pid = name[len(PREFIX):].split("-", 1)[0]
    return int(pid) if pid.isdigit() else None


def is_stale(name: str) -> bool:
    """A session of ours whose harness is gone."""
    pid = owner(name)
    return pid is not None and not pid_alive(pid)


def properties(buffer_kb: int, buffers: int):
    """pywintrace's TraceProperties for a real-time session with QPC stamps."""
    from etw.etw import TraceProperties

    props = TraceProperties(ring_buf_size=buffer_kb, min_buffers=buffers, max_buffers=buffers)
    props.get().contents.Wnode.ClientContext = _QPC
    return props


def logfile(name: str):
    """The consumer's EVENT_TRACE_LOGFILE: real time, event records, raw QPC stamps.
    pywintrace fills in its own record callback (the TDH parser) when none is set."""
    from etw import evntcons as ec, evntrace as et

    lf = et.EVENT_TRACE_LOGFILE()
    lf.ProcessTraceMode = (ec.PROCESS_TRACE_MODE_REAL_TIME | ec.PROCESS_TRACE_MODE_EVENT_RECORD
                           | _RAW_TIMESTAMP)
    lf.LoggerName = name
    return lf


def running_sessions() -> list[str]:
    """Names of the ETW sessions running on the machine (QueryAllTracesW)."""
    from etw import evntrace as et

    size = ctypes.sizeof(et.EVENT_TRACE_PROPERTIES) + 2 * 2 * _NAME_CHARS
    bufs = [(ctypes.c_char * size)() for _ in range(MAX_SESSIONS)]
    ptrs = (ctypes.POINTER(et.EVENT_TRACE_PROPERTIES) * MAX_SESSIONS)()
    for i, b in enumerate(bufs):
        p = ctypes.cast(b, ctypes.POINTER(et.EVENT_TRACE_PROPERTIES))
        p.contents.Wnode.BufferSize = size
        p.contents.LoggerNameOffset = ctypes.sizeof(et.EVENT_TRACE_PROPERTIES)
        p.contents.LogFileNameOffset = ctypes.sizeof(et.EVENT_TRACE_PROPERTIES) + 2 * _NAME_CHARS
        ptrs[i] = p
    count = ctypes.c_ulong(0)
    status = ctypes.WinDLL("advapi32").QueryAllTracesW(ptrs, MAX_SESSIONS, ctypes.byref(count))
    if status != 0:
        raise OSError(status, f"QueryAllTraces failed: error {status}")
    names = []
    for i in range(count.value):
        off = ptrs[i].contents.LoggerNameOffset
        names.append(ctypes.wstring_at(ctypes.addressof(bufs[i]) + off))
    return names


def stop(name: str) -> int:
    """Stop a session by name (ControlTraceW STOP); the Win32 status (0: stopped)."""
    from etw import evntrace as et
    from etw.etw import TraceProperties

    props = TraceProperties()
    return et.ControlTraceW(et.TRACEHANDLE(0), name, props.get(), _STOP)


def stop_stale() -> list[str]:
    """Stop the sessions a killed run of ours left; their names."""
    gone = []
    for name in running_sessions():
        if is_stale(name) and stop(name) == 0:
            gone.append(name)
    return gone


def device_map() -> dict[str, str]:
    r"""NT device names of the drives (``\Device\HarddiskVolume3`` -> ``C:``), from
    QueryDosDeviceW: kernel file events name paths by device."""
    k32 = ctypes.WinDLL("kernel32", use_last_error=True)
    out = {}
    buf = ctypes.create_unicode_buffer(1024)
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        drive = f"{letter}:"
        if k32.QueryDosDeviceW(drive, buf, len(buf)):
            out[buf.value] = drive
    return out


def provider_registered(guid: str) -> bool:
    """Whether a manifest provider is registered on this machine (its publisher key)."""
    import winreg

    key = rf"SOFTWARE\Microsoft\Windows\CurrentVersion\WINEVT\Publishers\{guid.lower()}"
    try:
        winreg.CloseKey(winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key))
        return True
    except OSError:
        return False
