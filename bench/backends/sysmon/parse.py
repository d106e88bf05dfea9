r"""pywintrace event dicts of the Microsoft-Windows-Sysmon provider -> our rows.

Sysmon's driver collects, its service writes each event to the Sysmon provider
{5770385F-C22A-43E0-BF4C-06F5698FFBD9} (the Operational log is one consumer, our
real-time session another). Field names and types are Sysmon's manifest (``sysmon -s``;
the same names as the event log's EventData). ``SysmonMapper.map(event_id, ev)`` returns
``(kind, key, path, pid, ticks)`` or None, like ``etw.parse.EtwMapper``; malformed dicts
are counted in ``parse_errors``.

  1 ProcessCreate -> proc_exec, key ProcessId, path CommandLine (carries the argv
    marker; Image when there is none). Every process is kept, as for ETW.
  5 ProcessTerminate -> proc_exit, key ProcessId, path Image.
  11 FileCreate (a file created or overwritten) -> file_create, path TargetFilename.
  23 FileDelete (archived) and 26 FileDeleteDetected -> file_delete, path TargetFilename.
  3 NetworkConnect -> Sysmon's Source is the side that initiated: Initiated true is our
    process connecting (net_connect), false our process accepting (net_accept), and both
    are keyed port_pair(SourcePort, DestinationPort) = (client, server). UDP: Initiated
    true -> net_send (Sysmon reports a UDP flow once, not every datagram).
  Sysmon has no write or rename event: those kinds are not reported.
  File paths are DOS paths already (Sysmon normalizes); only marked ones are kept.

Time. Sysmon's own ``UtcTime`` is wall-clock text with millisecond steps, taken when its
driver saw the operation. The ETW header's TimeStamp is when Sysmon's service wrote the
event, in QPC ticks of our session (ClientContext = 1): the same clock as t_seen and 100 ns
steps. We return the header's ticks (t_kernel), so ``delivery`` is ETW's transport from
Sysmon's service to us; Sysmon's own pipeline (driver -> service) falls in the latency
from t_issue, not in delivery. ``utc_time_ns`` reads UtcTime where the gap is wanted.
"""

from __future__ import annotations

from datetime import datetime, UTC

from bench.backends._etw.events import OurPaths, to_bool, to_int
from bench.core.kinds import Kind, port_pair

SYSMON = "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"
PROCESS_CREATE, NETWORK_CONNECT, PROCESS_TERMINATE = 1, 3, 5
FILE_CREATE, FILE_DELETE, FILE_DELETE_DETECTED = 11, 23, 26
EVENT_IDS = {SYSMON: [PROCESS_CREATE, NETWORK_CONNECT, PROCESS_TERMINATE, FILE_CREATE,
                      FILE_DELETE, FILE_DELETE_DETECTED]}
# Sysmon's rule name (its configuration's element) of each event id we read
RULES = {PROCESS_CREATE: "ProcessCreate", NETWORK_CONNECT: "NetworkConnect",
         PROCESS_TERMINATE: "ProcessTerminate", FILE_CREATE: "FileCreate",
         FILE_DELETE: "FileDelete", FILE_DELETE_DETECTED: "FileDeleteDetected"}
# What our configuration must switch on. Deletes come as FileDeleteDetected (26, Sysmon
# 13.10+): FileDelete (23) also copies every deleted file to the archive directory, a
# cost of its own; map() reads 23 too when a configuration has it.
NEEDED_RULES = ("ProcessCreate", "ProcessTerminate", "FileCreate", "FileDeleteDetected",
                "NetworkConnect")
KINDS = frozenset({Kind.proc_exec, Kind.proc_exit, Kind.file_create, Kind.file_delete,
                   Kind.net_connect, Kind.net_accept, Kind.net_send})

_PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_time_ns(text: str) -> int:
    """Sysmon's ``UtcTime`` (``2022-01-04 19:54:15.661``) as ns since the Unix epoch."""
    t = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    d = t - _EPOCH
    return ((d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds) * 1000


class SysmonMapper:
    """Sysmon event dicts -> rows (module doc). Same constructor as ``EtwMapper``:
    ``device_map`` is used only for a path that still names a device."""

    def __init__(self, marker: str, device_map: dict[str, str] | None = None, *,
                 root: str | None = None) -> None:
        self.marker = marker
        self._ours = OurPaths(marker, device_map, root)
        self.dos = self._ours.dos
        self.parse_errors = 0
        self.foreign_files = 0
        self.unmapped = 0
        self._handlers = {PROCESS_CREATE: self._create, PROCESS_TERMINATE: self._terminate,
                          FILE_CREATE: self._file_create, FILE_DELETE: self._file_delete,
                          FILE_DELETE_DETECTED: self._file_delete,
                          NETWORK_CONNECT: self._network}

    def map(self, event_id: int | None, ev: dict, provider: str | None = None):
        try:
            h = ev["EventHeader"]
            handler = self._handlers.get(
                int(h["EventDescriptor"]["Id"]) if event_id is None else event_id)
            if handler is None:
                self.unmapped += 1
                return None
            return handler(ev, int(h["TimeStamp"]))
        except _PARSE_ERRORS:
            self.parse_errors += 1
            return None

    def _create(self, ev, ticks):
        pid = to_int(ev["ProcessId"])
        return (int(Kind.proc_exec), pid, ev.get("CommandLine") or ev.get("Image") or None,
                pid, ticks)

    def _terminate(self, ev, ticks):
        pid = to_int(ev["ProcessId"])
        return (int(Kind.proc_exit), pid, ev.get("Image") or None, pid, ticks)

    def _file(self, kind, ev, ticks):
        path = self._ours(ev["TargetFilename"])
        if path is None:
            self.foreign_files += 1
            return None
        return (int(kind), 0, path, to_int(ev["ProcessId"]), ticks)

    def _file_create(self, ev, ticks):
        return self._file(Kind.file_create, ev, ticks)

    def _file_delete(self, ev, ticks):
        return self._file(Kind.file_delete, ev, ticks)

    def _network(self, ev, ticks):
        initiated = to_bool(ev["Initiated"])
        proto = str(ev["Protocol"]).strip().lower()
        key = port_pair(to_int(ev["SourcePort"]), to_int(ev["DestinationPort"]))
        pid = to_int(ev["ProcessId"])
        if proto == "tcp":
            kind = Kind.net_connect if initiated else Kind.net_accept
        elif proto == "udp" and initiated:
            kind = Kind.net_send
        else:
            self.unmapped += 1
            return None
        return (int(kind), key, None, pid, ticks)
