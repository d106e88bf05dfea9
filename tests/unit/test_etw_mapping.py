"""The ETW mapping on event dicts shaped as pywintrace delivers them (tests/fixtures/etw,
each file saying in ``_source`` where its shape comes from): every fixture event to its
(kind, key, path, pid, ticks) or to nothing, the FileObject table behind writes, renames
keyed by the new path, device paths, port order and accept orientation, malformed events
counted not raised; the session's loss counters from a ``query()``-shaped structure; and
QPC ticks to ns as ``time.perf_counter_ns`` computes them."""

from __future__ import annotations

import copy
import ctypes
import json
import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from bench.backends._etw import events as ev
from bench.backends.etw import parse
from bench.core.kinds import Kind, port_pair

pytestmark = pytest.mark.windows   # pure: runs on Windows too

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "etw"


def load(name):
    return json.loads((FIXTURES / name).read_text())


def mapper(fx, **kw):
    c = fx["context"]
    return parse.EtwMapper(c["marker"], c["device_map"], root=c["root"], **kw)


def expected(item):
    return None if item["expect"] is None else tuple(item["expect"])


@pytest.mark.parametrize("name", ["kernel_file.json", "kernel_process.json",
                                  "kernel_network.json"])
@pytest.mark.parametrize("pass_id", [True, False])
def test_every_fixture_event_maps_as_expected(name, pass_id):
    fx = load(name)
    assert fx["_source"], "a fixture says where its shape comes from"
    m = mapper(fx)
    for item in fx["events"]:
        got = m.map(item["event_id"] if pass_id else None, item["ev"])
        assert got == expected(item), item["name"]
    assert m.parse_errors == sum("parse_errors" in i.get("note", "") for i in fx["events"])


def test_provider_given_when_the_dict_lacks_it():
    fx = load("kernel_process.json")
    item = fx["events"][0]
    e = copy.deepcopy(item["ev"])
    del e["EventHeader"]["ProviderId"]
    assert mapper(fx).map(1, e) is None   # no provider: a parse error, not a guess
    assert mapper(fx).map(1, e, provider=parse.KERNEL_PROCESS.lower().strip("{}")) == expected(item)
    assert mapper(fx, provider=parse.KERNEL_PROCESS).map(1, e) == expected(item)


# -- Kernel-File ------------------------------------------------------------------------
def _file_events():
    fx = load("kernel_file.json")
    by = {}
    for i in fx["events"]:
        by.setdefault(i["name"].split(":")[0], i)
    return fx, by


def test_write_needs_the_create_of_its_file_object():
    fx, by = _file_events()
    create = by["CreateNewFile of our .new"]
    write = by["write on our FileObject"]
    m = mapper(fx)
    assert m.map(16, write["ev"]) is None          # Create not seen (before start, or lost)
    assert m.foreign_files == 1
    m.map(30, create["ev"])
    assert m.map(16, write["ev"]) == expected(write)
    assert len(m.files) == 1


def test_open_event_alone_fills_the_table():
    fx, by = _file_events()
    m = mapper(fx)
    m.map(12, by["create (open) of our .new"]["ev"])
    got = m.map(16, by["write on our FileObject"]["ev"])
    assert got[:3] == (int(Kind.file_write), 0,
                       "C:\\Users\\runneradmin\\AppData\\Local\\Temp\\sensorbench-7f3a\\"
                       "cell-0001\\sb1f2e3d4c-0000000.new")


def test_rename_is_keyed_by_the_new_path_and_moves_the_handle():
    fx, by = _file_events()
    m = mapper(fx)
    m.map(12, by["open of .new for the rename"]["ev"])
    kind, key, path, pid, ticks = m.map(27, by["RenamePath"]["ev"])
    assert (kind, key) == (int(Kind.file_rename), 0) and path.endswith("-0000000.ren")
    # a write through the renamed handle names the new path
    w = copy.deepcopy(by["write on our FileObject"]["ev"])
    w["FileObject"] = by["open of .new for the rename"]["ev"]["FileObject"]
    assert m.map(16, w)[2] == path


def test_rename_to_a_path_not_ours_forgets_the_handle():
    fx, by = _file_events()
    m = mapper(fx)
    m.map(12, by["open of .new for the rename"]["ev"])
    r = copy.deepcopy(by["RenamePath"]["ev"])
    r["FilePath"] = "\\Device\\HarddiskVolume3\\Windows\\Temp\\elsewhere.txt"
    assert m.map(27, r) is None and not m.files


def test_paging_writes_are_skipped_and_file_objects_as_ints_or_text():
    fx, by = _file_events()
    m = mapper(fx)
    c = copy.deepcopy(by["CreateNewFile of our .new"]["ev"])
    c["FileObject"] = int(c["FileObject"], 16)        # an int works as well as 0x text
    m.map(30, c)
    w = by["write on our FileObject"]["ev"]
    assert m.map(16, w) is not None
    paging = copy.deepcopy(w)
    paging["IOFlags"] = "0x43"
    assert m.map(16, paging) is None


def test_the_table_is_bounded():
    fx, by = _file_events()
    m = mapper(fx, max_files=3)
    c = by["create (open) of our .new"]["ev"]
    for fo in range(10):
        e = copy.deepcopy(c)
        e["FileObject"] = hex(0xFFFF000000000000 + fo)
        m.map(12, e)
    assert list(m.files) == [0xFFFF000000000007, 0xFFFF000000000008, 0xFFFF000000000009]


def test_root_rekeys_marked_files_whatever_directory_spelling_the_event_used():
    fx, by = _file_events()
    m = parse.EtwMapper(
        fx["context"]["marker"], fx["context"]["device_map"],
        root="C:\\Users\\runneradmin\\AppData\\Local\\Temp\\sensorbench-7f3a\\cell-0001")
    e = copy.deepcopy(by["CreateNewFile of our .new"]["ev"])
    e["FileName"] = ("\\Device\\HarddiskVolume3\\Users\\RUNNER~1\\AppData\\Local\\Temp\\"
                     "sensorbench-7f3a\\cell-0001\\sb1f2e3d4c-0000000.new")
    assert m.map(30, e)[2] == ("C:\\Users\\runneradmin\\AppData\\Local\\Temp\\"
                               "sensorbench-7f3a\\cell-0001\\sb1f2e3d4c-0000000.new")


# -- device paths -----------------------------------------------------------------------
def test_device_paths():
    dos = ev.DevicePaths({"\\Device\\HarddiskVolume3": "C:", "\\Device\\HarddiskVolume4\\": "D:"})
    assert dos("\\Device\\HarddiskVolume3\\Users\\a\\B.txt") == "C:\\Users\\a\\B.txt"
    assert dos("\\device\\harddiskvolume3\\Users\\a") == "C:\\Users\\a"   # device: any case
    assert dos("\\Device\\HarddiskVolume4\\x") == "D:\\x"                 # map key with a \
    assert dos("\\Device\\HarddiskVolume3") == "C:\\"
    assert dos("\\Device\\HarddiskVolume33\\x") == "\\Device\\HarddiskVolume33\\x"  # unknown
    assert dos("\\Device\\Mup\\server\\share\\f") == "\\Device\\Mup\\server\\share\\f"
    assert dos("\\??\\C:\\Windows\\x") == "C:\\Windows\\x"
    assert dos("C:\\already\\dos") == "C:\\already\\dos"
    assert ev.DevicePaths()("\\Device\\HarddiskVolume3\\x") == "\\Device\\HarddiskVolume3\\x"


def test_a_marked_path_on_an_unknown_device_is_kept_as_is():
    fx, by = _file_events()
    m = parse.EtwMapper(fx["context"]["marker"], {})
    path = m.map(30, by["CreateNewFile of our .new"]["ev"])[2]
    assert path.startswith("\\Device\\HarddiskVolume3\\") and "sb1f2e3d4c" in path


# -- Kernel-Process ---------------------------------------------------------------------
def test_process_start_key_is_the_child_not_the_logging_process():
    fx = load("kernel_process.json")
    item = fx["events"][0]
    assert item["ev"]["EventHeader"]["ProcessId"] != int(item["ev"]["ProcessID"])
    kind, key, path, pid, ticks = mapper(fx).map(1, item["ev"])
    assert kind == int(Kind.proc_exec) and key == pid == int(item["ev"]["ProcessID"])
    assert ticks == item["ev"]["EventHeader"]["TimeStamp"]


# -- Kernel-Network ---------------------------------------------------------------------
def _net():
    fx = load("kernel_network.json")
    return fx, {i["event_id"]: i for i in reversed(fx["events"])}


def _with_ports(e, sport, dport):
    e = copy.deepcopy(e)
    e["sport"], e["dport"] = sport, dport
    return e


def test_accept_orientation_is_learnt_from_a_connect():
    fx, by = _net()
    connect, accept = by[12]["ev"], by[15]["ev"]
    m = mapper(fx)
    m.map(12, connect)
    # this machine's accepts put the local (server) port in sport
    local = _with_ports(accept, connect["dport"], connect["sport"])
    assert m.map(15, local)[1] == port_pair(61001, 50000)
    assert m.accept_ports == "local"
    later = _with_ports(accept, "50000", "61077")
    assert m.map(15, later)[1] == port_pair(61077, 50000)


def test_accept_orientation_forced_and_default():
    fx, by = _net()
    accept = by[15]["ev"]            # sport 61001 (client), dport 50000 (server)
    assert mapper(fx, accept_ports="source").map(15, accept)[1] == port_pair(61001, 50000)
    assert mapper(fx, accept_ports="local").map(15, accept)[1] == port_pair(50000, 61001)
    assert mapper(fx).map(15, accept)[1] == port_pair(61001, 50000)   # nothing learnt yet
    with pytest.raises(ValueError):
        parse.EtwMapper("m", {}, accept_ports="remote")


def test_ports_in_network_byte_order_are_swapped_when_asked():
    fx, by = _net()
    raw = _with_ports(by[12]["ev"], str(0x49EE), 0x50C3)  # 61001=0xEE49, 50000=0xC350 swapped
    assert mapper(fx, swap_port_bytes=True).map(12, raw)[1] == port_pair(61001, 50000)
    assert mapper(fx).map(12, raw)[1] == port_pair(0x49EE, 0x50C3)
    hexed = _with_ports(by[42]["ev"], "0xEE4A", "0xC351")   # hex text reads too
    assert mapper(fx).map(42, hexed)[1] == port_pair(61002, 50001)


def test_network_pid_is_the_pid_field():
    fx, by = _net()
    e = by[12]["ev"]
    assert e["EventHeader"]["ProcessId"] == 4 and mapper(fx).map(12, e)[3] == e["PID"]


# -- malformed and ignored --------------------------------------------------------------
@pytest.mark.parametrize("breakage", [
    lambda e: e.pop("EventHeader"),
    lambda e: e["EventHeader"].pop("TimeStamp"),
    lambda e: e["EventHeader"]["EventDescriptor"].pop("Id"),
    lambda e: e.update(FileName=None),
    lambda e: e.update(FileObject="not a pointer"),
    lambda e: e.update(FileName=12345),
])
def test_malformed_events_are_counted_not_raised(breakage):
    fx, by = _file_events()
    e = copy.deepcopy(by["CreateNewFile of our .new"]["ev"])
    breakage(e)
    m = mapper(fx)
    assert m.map(None, e) is None
    assert m.parse_errors == 1


def test_ignored_events_are_counted_apart_from_errors():
    fx, by = _file_events()
    m = mapper(fx)
    m.map(15, by["Read (id 15)"]["ev"])
    m.map(30, by["CreateNewFile of a foreign path"]["ev"])
    other = copy.deepcopy(by["Read (id 15)"]["ev"])
    other["EventHeader"]["ProviderId"] = "{00000000-0000-0000-0000-000000000001}"
    m.map(15, other)
    assert (m.unmapped, m.foreign_files, m.parse_errors) == (2, 1, 0)


def test_recommended_keywords_and_ids_cover_what_map_reads():
    assert parse.KEYWORDS[parse.KERNEL_FILE] & 0x20 == 0        # no FILEIO: too much
    for prov, ids in parse.EVENT_IDS.items():
        m = parse.EtwMapper("m", {})
        assert set(ids) == set(m._handlers[prov])


# -- header, values ---------------------------------------------------------------------
def test_header_and_provider():
    e = load("kernel_process.json")["events"][1]["ev"]
    h = ev.header(e)
    assert h == ev.Header(pid=7788, tid=6000, event_id=2, opcode=2, version=2,
                          ticks=e["EventHeader"]["TimeStamp"])
    assert ev.provider(e) == parse.KERNEL_PROCESS
    assert ev.provider({}) is None
    with pytest.raises(KeyError):
        ev.header({"EventHeader": {}})


def test_values_as_either_pywintrace_version_renders_them():
    assert ev.to_int(7788) == ev.to_int("7788") == ev.to_int(" 7788 ") == 7788
    assert ev.to_int("0xFFFF9B0C1D2E3F40") == ev.to_int("0Xffff9b0c1d2e3f40") == 0xFFFF9B0C1D2E3F40
    with pytest.raises(TypeError):
        ev.to_int(None)
    with pytest.raises(ValueError):
        ev.to_int("")
    assert ev.to_bool(True) and ev.to_bool("true") and ev.to_bool("TRUE") and ev.to_bool(1)
    assert not ev.to_bool(False) and not ev.to_bool("false") and not ev.to_bool("0")
    with pytest.raises(ValueError):
        ev.to_bool("maybe")
    assert ev.guid("edd08927-9cc4-4e65-b970-c2560fb5c289") == parse.KERNEL_FILE


# -- loss -------------------------------------------------------------------------------
class GUID(ctypes.Structure):          # etw/GUID.py, without ole32
    _fields_ = [("Data1", ctypes.c_ulong), ("Data2", ctypes.c_ushort),
                ("Data3", ctypes.c_ushort), ("Data4", ctypes.c_byte * 8)]


class WNODE_HEADER(ctypes.Structure):  # etw/wmistr.py
    _fields_ = [("BufferSize", ctypes.c_ulong), ("ProviderId", ctypes.c_ulong),
                ("HistoricalContext", ctypes.c_uint64), ("TimeStamp", ctypes.c_longlong),
                ("Guid", GUID), ("ClientContext", ctypes.c_ulong), ("Flags", ctypes.c_ulong)]


class EVENT_TRACE_PROPERTIES(ctypes.Structure):  # etw/evntrace.py, HANDLE as void*
    _fields_ = [("Wnode", WNODE_HEADER), ("BufferSize", ctypes.c_ulong),
                ("MinimumBuffers", ctypes.c_ulong), ("MaximumBuffers", ctypes.c_ulong),
                ("MaximumFileSize", ctypes.c_ulong), ("LogFileMode", ctypes.c_ulong),
                ("FlushTimer", ctypes.c_ulong), ("EnableFlags", ctypes.c_ulong),
                ("AgeLimit", ctypes.c_ulong), ("NumberOfBuffers", ctypes.c_ulong),
                ("FreeBuffers", ctypes.c_ulong), ("EventsLost", ctypes.c_ulong),
                ("BuffersWritten", ctypes.c_ulong), ("LogBuffersLost", ctypes.c_ulong),
                ("RealTimeBuffersLost", ctypes.c_ulong), ("LoggerThreadId", ctypes.c_void_p),
                ("LogFileNameOffset", ctypes.c_ulong), ("LoggerNameOffset", ctypes.c_ulong)]


def _queried():
    """What ETW.query() returns: ``props.get().contents`` of a buffer the size pywintrace
    allocates (the structure, then room for two names)."""
    fx = load("query.json")
    buf = (ctypes.c_char * (ctypes.sizeof(EVENT_TRACE_PROPERTIES) + 2 * 2 * 1024))()
    p = ctypes.cast(ctypes.pointer(buf), ctypes.POINTER(EVENT_TRACE_PROPERTIES)).contents
    for k, v in fx.items():
        if k == "Wnode":
            for wk, wv in v.items():
                if wk != "Guid":
                    setattr(p.Wnode, wk, wv)
        elif not k.startswith("_") and k != "expect":
            setattr(p, k, v)
    return fx, p


def test_session_loss_from_the_query_structure():
    fx, props = _queried()
    assert ev.session_loss(props) == fx["expect"]


def test_session_loss_from_a_dict_and_after_a_failed_query():
    fx = load("query.json")
    assert ev.session_loss({k: v for k, v in fx.items() if not k.startswith("_")}) == fx["expect"]
    # pywintrace's query() ignores ControlTrace's status: a failed query reads all zeros
    failed = ev.session_loss(EVENT_TRACE_PROPERTIES())
    assert set(failed.values()) == {0} and failed["buffers"] == 0


# -- clock ------------------------------------------------------------------------------
@pytest.mark.parametrize("ticks, freq, ns", [
    (0, 10_000_000, 0),
    (1, 10_000_000, 100),
    (123_456_789, 10_000_000, 12_345_678_900),
    (2 ** 62, 10_000_000, 461_168_601_842_738_790_400),       # 2**62 * 100
    (36_000_000_000_000, 10_000_000, 3_600_000_000_000_000),  # 100 h of uptime
    (1, 3_579_545, 279),                    # 10**9 / 3579545 = 279.36...
    (3_579_545, 3_579_545, 1_000_000_000),
    (7_159_091, 3_579_545, 2_000_000_279),  # 2 s and one tick
    (3_579_544, 3_579_545, 999_999_720),    # 10**9 - 279.36 -> floor
    (10 ** 12, 3_579_545, 279_365_114_840_014),    # 279365.1148400 s,
])
def test_qpc_to_ns_matches_perf_counter_ns(ticks, freq, ns):
    assert ev.qpc_to_ns(ticks, freq) == ns
    assert ns == int(Fraction(ticks * 10 ** 9, freq))        # floor, checked another way
    if ns < 2 ** 63:                   # what an int64 column can hold
        assert ev.qpc_to_ns_array(np.array([ticks], np.int64), freq)[0] == ns


def test_qpc_to_ns_array_is_exact_and_keeps_no_time():
    rng = random.Random(7)
    for freq in (10_000_000, 3_579_545, 2_400_000_000, 1):
        ticks = [rng.randrange(0, 2 ** 63 // 10 ** 9 * freq // 4) for _ in range(200)] + [-1]
        got = ev.qpc_to_ns_array(np.array(ticks, np.int64), freq)
        assert got[-1] == ev.NO_TIME
        assert [int(x) for x in got[:-1]] == [ev.qpc_to_ns(t, freq) for t in ticks[:-1]]
        assert [ev.qpc_to_ns(t, freq) for t in ticks[:-1]] == [t * 10 ** 9 // freq
                                                               for t in ticks[:-1]]
    with pytest.raises(ValueError):
        ev.qpc_to_ns(1, 0)
    with pytest.raises(ValueError):
        ev.qpc_to_ns_array(np.array([1]), -5)


def test_filetime_stamps_are_told_apart_from_qpc_ticks():
    assert ev.looks_like_filetime(133_590_240_001_234_567)     # 2024-05-01 as FILETIME
    assert not ev.looks_like_filetime(36_000_000_000_000)      # 100 h of QPC at 10 MHz
    assert not ev.looks_like_filetime(load("kernel_file.json")["events"][0]["ev"]
                                      ["EventHeader"]["TimeStamp"])


# -- Rows -------------------------------------------------------------------------------
def test_rows_become_sink_columns():
    rows = ev.Rows()
    assert rows.take() is None
    fx = load("kernel_file.json")
    m = mapper(fx)
    for t_seen, item in enumerate(fx["events"], start=10 ** 9):
        row = m.map(item["event_id"], item["ev"])
        if row is not None:
            kind, key, path, pid, ticks = row
            rows.add(kind, key, path, pid, ev.qpc_to_ns(ticks, 10_000_000), t_seen)
    assert len(rows) == 5
    cols = rows.take()
    assert len(rows) == 0 and rows.take() is None
    assert {c: a.dtype for c, a in cols.items()} == {
        "kind": np.int16, "key": np.int64, "path": object, "pid": np.int64,
        "t_kernel": np.int64, "t_seen": np.int64}
    assert list(cols["kind"]) == [1, 2, 3, 4, 1]
    assert cols["path"][1].endswith("-0000000.new") and cols["path"][2].endswith(".ren")
    assert (cols["t_kernel"] % 100 == 0).all()


def test_rows_keep_none_paths_for_keyed_kinds():
    rows = ev.Rows()
    rows.add(int(Kind.net_connect), port_pair(1, 2), None, 5, ev.NO_TIME, 7)
    cols = rows.take()
    assert cols["path"][0] is None and cols["t_kernel"][0] == -1
