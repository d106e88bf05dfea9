"""The Sysmon mapping on event dicts shaped as pywintrace delivers Sysmon's provider
(tests/fixtures/etw/sysmon.json): every fixture event to its row or to nothing, network
direction from Initiated, paths of ours only, malformed events counted not raised, and
UtcTime read for the driver-to-service gap."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from bench.backends.sysmon import parse
from bench.core.kinds import Kind, port_pair

pytestmark = pytest.mark.windows   # pure: runs on Windows too

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "etw" / "sysmon.json"


def load():
    return json.loads(FIXTURE.read_text())


def mapper(fx, **kw):
    c = fx["context"]
    return parse.SysmonMapper(c["marker"], c["device_map"], root=c["root"], **kw)


def by_id(fx, eid, n=0):
    return [i for i in fx["events"] if i["event_id"] == eid][n]


@pytest.mark.parametrize("pass_id", [True, False])
def test_every_fixture_event_maps_as_expected(pass_id):
    fx = load()
    assert fx["_source"]
    m = mapper(fx)
    for item in fx["events"]:
        want = None if item["expect"] is None else tuple(item["expect"])
        assert m.map(item["event_id"] if pass_id else None, item["ev"]) == want, item["name"]
    assert m.parse_errors == sum("parse_errors" in i.get("note", "") for i in fx["events"])


def test_t_kernel_is_the_etw_header_stamp_and_pid_the_subject():
    fx = load()
    e = by_id(fx, 1)["ev"]
    kind, key, path, pid, ticks = mapper(fx).map(1, e)
    assert ticks == e["EventHeader"]["TimeStamp"]
    assert pid == key == 7788 != e["EventHeader"]["ProcessId"]   # not Sysmon's service
    assert fx["context"]["marker"] in path                      # the command line


def test_process_create_without_command_line_falls_back_to_image():
    fx = load()
    e = copy.deepcopy(by_id(fx, 1)["ev"])
    e["CommandLine"] = ""
    assert mapper(fx).map(1, e)[2] == e["Image"]


@pytest.mark.parametrize("initiated, proto, kind", [
    (True, "tcp", Kind.net_connect), ("true", "TCP", Kind.net_connect),
    (False, "tcp", Kind.net_accept), ("false", "tcp", Kind.net_accept),
    (True, "udp", Kind.net_send), (1, "udp", Kind.net_send),
])
def test_network_direction_from_initiated_key_from_source_and_destination(initiated, proto, kind):
    fx = load()
    e = copy.deepcopy(by_id(fx, 3)["ev"])
    e.update(Initiated=initiated, Protocol=proto, SourcePort=61005, DestinationPort="50000")
    got = mapper(fx).map(3, e)
    assert got[:2] == (int(kind), port_pair(61005, 50000))


def test_udp_receive_and_unknown_protocols_are_not_mapped():
    fx = load()
    m = mapper(fx)
    e = copy.deepcopy(by_id(fx, 3)["ev"])
    e.update(Protocol="icmp")
    assert m.map(3, e) is None and m.unmapped == 1 and m.parse_errors == 0


@pytest.mark.parametrize("field, value", [("Initiated", "maybe"), ("SourcePort", None),
                                          ("DestinationPort", "x"), ("ProcessId", None)])
def test_malformed_network_events_are_counted(field, value):
    fx = load()
    e = copy.deepcopy(by_id(fx, 3)["ev"])
    e[field] = value
    m = mapper(fx)
    assert m.map(3, e) is None and m.parse_errors == 1


def test_only_marked_files_and_root_rekeying():
    fx = load()
    e = copy.deepcopy(by_id(fx, 11)["ev"])
    m = mapper(fx)
    foreign = dict(e, TargetFilename="C:\\Windows\\Temp\\x.tmp")
    assert m.map(11, foreign) is None and m.foreign_files == 1
    short = dict(e, TargetFilename="C:\\Users\\RUNNER~1\\AppData\\Local\\Temp\\sensorbench-7f3a"
                                   "\\cell-0001\\sb1f2e3d4c-0000000.new")
    root = "C:\\Users\\runneradmin\\AppData\\Local\\Temp\\sensorbench-7f3a\\cell-0001"
    got = parse.SysmonMapper("sb1f2e3d4c", {}, root=root).map(11, short)
    assert got[2] == root + "\\sb1f2e3d4c-0000000.new"


def test_a_device_path_is_converted_when_sysmon_gives_one():
    fx = load()
    e = copy.deepcopy(by_id(fx, 23)["ev"])
    e["TargetFilename"] = "\\Device\\HarddiskVolume3\\Temp\\sb1f2e3d4c-0000009.ren"
    assert mapper(fx).map(23, e)[2] == "C:\\Temp\\sb1f2e3d4c-0000009.ren"


def test_kinds_ids_and_rules():
    assert set(parse.EVENT_IDS[parse.SYSMON]) == set(parse.SysmonMapper("m")._handlers)
    assert set(parse.RULES) == set(parse.EVENT_IDS[parse.SYSMON])
    assert set(parse.NEEDED_RULES) <= set(parse.RULES.values())
    assert Kind.file_write not in parse.KINDS and Kind.file_rename not in parse.KINDS


def test_utc_time():
    assert parse.utc_time_ns("1970-01-01 00:00:01.000") == 1_000_000_000
    assert parse.utc_time_ns("2024-05-01 10:00:00.123") == 1_714_557_600_123_000_000
    with pytest.raises(ValueError):
        parse.utc_time_ns("yesterday")
