r"""pywintrace event dicts of the kernel's manifest providers -> our rows, no Windows here.

``EtwMapper.map(event_id, ev)`` returns ``(kind, key, path, pid, ticks)`` or None; ticks
are the header's raw QPC TimeStamp (``_etw.events.qpc_to_ns`` makes them t_kernel). It
dispatches on ``ev["EventHeader"]["ProviderId"]``, which pywintrace always fills (the
``provider`` argument serves dicts that lack it). ``event_id`` is what pywintrace passes
first in its tuple (EventDescriptor.Id for a manifest provider in a session of ours);
None reads it from the header. A dict that lacks a field we need, or holds one that is not
a number, is counted in ``parse_errors`` and skipped, never raised: pywintrace would only
log the exception and drop the event.

Microsoft-Windows-Kernel-Process {22FB2CD6-...}, keyword WINEVENT_KEYWORD_PROCESS 0x10:
  1 ProcessStart -> proc_exec, key ProcessID (the child; the event is logged in the parent
    and carries no command line), path ImageName as a DOS path.
  2 ProcessStop -> proc_exit, key ProcessID, path ImageName (the short ANSI name).
  Every process is kept: with no command line nothing tells ours apart early, and they
  are few; the correlator sets aside pids that are not ours.

Microsoft-Windows-Kernel-File {EDD08927-...} (keywords below). Only paths with the run
marker are kept: the machine's own file activity is far larger than ours.
  30 CreateNewFile (a create that made a new file) -> file_create, path FileName.
  12 Create (every open) -> no row: it fills the FileObject table, and forgets a
     FileObject reused by a path that is not ours.
  16 Write -> file_write, path from the table by FileObject (Write has no name). Paging
     writes (IRP_PAGING_IO in IOFlags: the lazy writer flushing later, in the System
     process) are skipped: they are the cache's, not the caller's.
  27 RenamePath -> file_rename, path FilePath = the NEW name (Datadog's agent reads it so:
     old name from its FileObject table, new from FilePath); the table follows the rename.
  26 DeletePath -> file_delete, path FilePath.
  14 Close -> forgets the FileObject (only delivered with KERNEL_FILE_KEYWORD_FILEIO).
  The table is bounded (``max_files``, oldest out first), so a run without Close events
  cannot grow it without end.

Microsoft-Windows-Kernel-Network {7DD42A49-...}, keyword KERNEL_NETWORK_KEYWORD_IPV4 0x10,
key ``port_pair(client, server)``, pid the PID field (the header's is whatever thread
logged it):
  12 TCPv4 connect -> net_connect, port_pair(sport, dport): s is us, the connecting side.
  15 TCPv4 accept -> net_accept. Whether sport is the accepting side (local) or the peer
     that connected (the connection's source) is not stated by the manifest; with
     ``accept_ports="auto"`` the first accept whose two ports match a connect seen
     before fixes it for the run (loopback workloads see both ends), and until then the
     source reading is used (a krabsetw-based profiler reads the accept's dport as the
     local port). ``"source"`` / ``"local"`` force one.
  42 UDPv4 send -> net_send, port_pair(sport, dport).
  Ports: TDH renders win:Port in host order (the raw bytes are network order); set
  ``swap_port_bytes`` if a manifest without outType delivers them raw. Other processes'
  connections are kept: they are few next to file activity and cannot share our pairs.
"""

from __future__ import annotations

from collections import OrderedDict

from bench.backends._etw.events import OurPaths, guid, to_int
from bench.core.kinds import Kind, port_pair

KERNEL_PROCESS = "{22FB2CD6-0E7B-422B-A0C7-2FAD1FD0E716}"
KERNEL_FILE = "{EDD08927-9CC4-4E65-B970-C2560FB5C289}"
KERNEL_NETWORK = "{7DD42A49-5329-4832-8DFD-43D979153A88}"

# event ids (Microsoft-Windows-Kernel-*.xml, repnz/etw-providers-docs)
PROCESS_START, PROCESS_STOP = 1, 2
FILE_CREATE, FILE_CLOSE, FILE_WRITE = 12, 14, 16
FILE_DELETE_PATH, FILE_RENAME_PATH, FILE_CREATE_NEW = 26, 27, 30
TCP4_CONNECT, TCP4_ACCEPT, UDP4_SEND = 12, 15, 42

# Keywords (manifest masks). File: CREATE 0x80 (Create), WRITE 0x200, DELETE_PATH 0x400,
# RENAME_SETLINK_PATH 0x800, CREATE_NEW_FILE 0x1000; FILEIO 0x20 would add Close but also
# every Read, Cleanup and QueryInformation of the machine, so it is left out.
KEYWORDS = {KERNEL_PROCESS: 0x10, KERNEL_FILE: 0x80 | 0x200 | 0x400 | 0x800 | 0x1000,
            KERNEL_NETWORK: 0x10}
# What map() reads, per provider: for pywintrace's providers_event_id_filters (>= 0.3.0;
# it drops other ids before its TDH parse) or an ETW event-id filter. IPv4 also brings
# send/recv of every TCP segment (10, 11) and UDP receive (43): worth dropping early.
EVENT_IDS = {KERNEL_PROCESS: [PROCESS_START, PROCESS_STOP],
             KERNEL_FILE: [FILE_CREATE, FILE_CLOSE, FILE_WRITE, FILE_DELETE_PATH,
                           FILE_RENAME_PATH, FILE_CREATE_NEW],
             KERNEL_NETWORK: [TCP4_CONNECT, TCP4_ACCEPT, UDP4_SEND]}
KINDS = frozenset(Kind) - {Kind.proc_fork}

IRP_PAGING_IO = 0x2
_PARSE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError)


class EtwMapper:
    r"""Kernel-Process / Kernel-File / Kernel-Network event dicts -> rows (module doc).

    ``marker``: the run marker every path of ours carries. ``device_map``: NT device ->
    drive (QueryDosDevice). ``root``: when given, a marked file's key is ``root`` + ``\`` +
    its base name, whatever directory spelling the event used (8.3 names, case); leave it
    None when the workload opens files by the very string it keys them with."""

    def __init__(self, marker: str, device_map: dict[str, str] | None = None, *,
                 root: str | None = None, provider: str | None = None,
                 accept_ports: str = "auto", swap_port_bytes: bool = False,
                 max_files: int = 65536) -> None:
        if accept_ports not in ("auto", "source", "local"):
            raise ValueError(f"accept_ports: auto, source or local, not {accept_ports!r}")
        self.marker = marker
        self._ours = OurPaths(marker, device_map, root)
        self.dos = self._ours.dos
        self.provider = guid(provider) if provider else None
        self.accept_ports = accept_ports
        self.swap = swap_port_bytes
        self.max_files = max_files
        self.files: OrderedDict[int, str] = OrderedDict()   # FileObject -> DOS path
        self._connects: OrderedDict[int, None] = OrderedDict()  # recent connect keys
        self.parse_errors = 0
        self.foreign_files = 0   # file events dropped early: no marker / unknown FileObject
        self.unmapped = 0        # ids or providers map() does not read
        self._handlers = {
            KERNEL_PROCESS: {PROCESS_START: self._proc_start, PROCESS_STOP: self._proc_stop},
            KERNEL_FILE: {FILE_CREATE_NEW: self._create_new, FILE_CREATE: self._create,
                          FILE_WRITE: self._write, FILE_RENAME_PATH: self._rename,
                          FILE_DELETE_PATH: self._delete, FILE_CLOSE: self._close},
            KERNEL_NETWORK: {TCP4_CONNECT: self._connect, TCP4_ACCEPT: self._accept,
                             UDP4_SEND: self._udp_send},
        }

    def map(self, event_id: int | None, ev: dict, provider: str | None = None):
        try:
            h = ev["EventHeader"]
            prov = h.get("ProviderId") or provider or self.provider
            # pywintrace spells GUIDs as we do: normalize only what it did not give us
            table = self._handlers.get(prov) or self._handlers.get(guid(prov), {})
            handler = table.get(int(h["EventDescriptor"]["Id"]) if event_id is None
                                else event_id)
            if handler is None:
                self.unmapped += 1
                return None
            return handler(ev, h)
        except _PARSE_ERRORS:
            self.parse_errors += 1
            return None

    def _remember(self, fo: int, path: str) -> None:
        self.files[fo] = path
        self.files.move_to_end(fo)
        if len(self.files) > self.max_files:
            self.files.popitem(last=False)

    # -- Kernel-Process -----------------------------------------------------------------
    def _proc_start(self, ev, h):
        pid = to_int(ev["ProcessID"])
        image = ev.get("ImageName")
        return (int(Kind.proc_exec), pid, self.dos(image) if image else None, pid,
                int(h["TimeStamp"]))

    def _proc_stop(self, ev, h):
        pid = to_int(ev["ProcessID"])
        return (int(Kind.proc_exit), pid, ev.get("ImageName") or None, pid, int(h["TimeStamp"]))

    # -- Kernel-File --------------------------------------------------------------------
    def _create(self, ev, h):
        fo = to_int(ev["FileObject"])
        path = self._ours(ev["FileName"])
        if path is None:
            self.files.pop(fo, None)   # a FileObject address reused by someone else's file
            self.foreign_files += 1
        else:
            self._remember(fo, path)
        return None

    def _create_new(self, ev, h):
        fo = to_int(ev["FileObject"])
        path = self._ours(ev["FileName"])
        if path is None:
            self.foreign_files += 1
            return None
        self._remember(fo, path)
        return (int(Kind.file_create), 0, path, int(h["ProcessId"]), int(h["TimeStamp"]))

    def _write(self, ev, h):
        path = self.files.get(to_int(ev["FileObject"]))
        if path is None:
            self.foreign_files += 1
            return None
        if to_int(ev.get("IOFlags", 0)) & IRP_PAGING_IO:
            return None
        return (int(Kind.file_write), 0, path, int(h["ProcessId"]), int(h["TimeStamp"]))

    def _rename(self, ev, h):
        fo = to_int(ev["FileObject"])
        path = self._ours(ev["FilePath"])
        if path is None:
            self.files.pop(fo, None)
            self.foreign_files += 1
            return None
        if fo in self.files:
            self.files[fo] = path      # later writes on this handle name the new path
        return (int(Kind.file_rename), 0, path, int(h["ProcessId"]), int(h["TimeStamp"]))

    def _delete(self, ev, h):
        path = self._ours(ev["FilePath"])
        if path is None:
            self.foreign_files += 1
            return None
        return (int(Kind.file_delete), 0, path, int(h["ProcessId"]), int(h["TimeStamp"]))

    def _close(self, ev, h):
        self.files.pop(to_int(ev["FileObject"]), None)
        return None

    # -- Kernel-Network -----------------------------------------------------------------
    def _ports(self, ev) -> tuple[int, int]:
        s, d = to_int(ev["sport"]), to_int(ev["dport"])
        if self.swap:
            s, d = ((s & 0xFF) << 8) | (s >> 8), ((d & 0xFF) << 8) | (d >> 8)
        return s, d

    def _connect(self, ev, h):
        s, d = self._ports(ev)
        key = port_pair(s, d)
        if self.accept_ports == "auto":
            self._connects[key] = None
            if len(self._connects) > 4096:
                self._connects.popitem(last=False)
        return (int(Kind.net_connect), key, None, to_int(ev["PID"]), int(h["TimeStamp"]))

    def _accept(self, ev, h):
        s, d = self._ports(ev)
        source, local = port_pair(s, d), port_pair(d, s)
        if self.accept_ports == "auto":
            # learn the orientation from the first accept whose connect we saw
            if source in self._connects:
                self.accept_ports = "source"
            elif local in self._connects:
                self.accept_ports = "local"
        key = local if self.accept_ports == "local" else source
        if self.accept_ports != "auto":
            self._connects.clear()
        return (int(Kind.net_accept), key, None, to_int(ev["PID"]), int(h["TimeStamp"]))

    def _udp_send(self, ev, h):
        s, d = self._ports(ev)
        return (int(Kind.net_send), port_pair(s, d), None, to_int(ev["PID"]),
                int(h["TimeStamp"]))
