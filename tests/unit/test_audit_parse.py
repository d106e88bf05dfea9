"""Audit record assembly on records recorded from this kernel (``tests/fixtures/capture.py``)
and on broken ones: truncated, corrupted, out of order, missing their EOE; connects and
opens for writing on records built here as the kernel writes them (the recording has no
connect rule)."""

from __future__ import annotations

import struct

import pytest

from bench.backends.audit import rules
from bench.backends.audit.parse import (Assembler, decode_value, parse_record,
                                        split_datagram)
from bench.core.kinds import Kind, port_pair
from fixtures.frames import cuts, load

SERVER_PORT = 4242
X86 = rules.SYSCALLS["x86_64"][1]
DIR = "/var/tmp/sensorbench-0/sbcafe0001"


def _assemble(frames, info):
    a = Assembler(info["syscalls"], lambda pid, fd: SERVER_PORT)
    events = [e for f in frames for e in a.feed(f)]
    return a, events + a.flush(everything=True)


def test_recorded_records_decode_to_every_operation():
    frames, info = load("audit")
    a, events = _assemble(frames, info)
    assert a.parse_errors == 0
    got = {(e.kind, e.path) for e in events if e.path and info["dir"] in e.path}
    for new in info["paths"]:
        ren = new[:-4] + ".ren"
        assert {(Kind.file_create, new), (Kind.file_rename, ren), (Kind.file_delete, ren)} <= got
    for pid in info["pids"]:
        assert [e.kind for e in events if e.key == pid] == [
            Kind.proc_fork, Kind.proc_exec, Kind.proc_exit]
        exec_ev = next(e for e in events if e.key == pid and e.kind == Kind.proc_exec)
        assert exec_ev.path == "/bin/true sbfixture"
    client, _server = info["ports"]
    assert [e.key for e in events if e.kind == Kind.net_accept] == [
        port_pair(client, SERVER_PORT)]
    assert all(e.t_wall_ns > 1_600_000_000 * 10**9 for e in events)


def test_opens_for_writing_are_the_writes_and_nothing_else_is_invented():
    # The recording's files were made with open(O_WRONLY|O_CREAT|O_EXCL): one write each,
    # keyed by the path opened. It has no connect rule and a UDP send is never reported.
    frames, info = load("audit")
    _a, events = _assemble(frames, info)
    writes = [e.path for e in events if e.kind == Kind.file_write]
    assert sorted(writes) == sorted(info["paths"])
    assert not {e.kind for e in events} & {Kind.net_connect, Kind.net_send}


def test_one_event_per_operation():
    frames, info = load("audit")
    _a, events = _assemble(frames, info)
    keyed = [(e.kind, e.key, e.path) for e in events]
    assert len(keyed) == len(set(keyed))


def test_lost_eoe_still_decodes_the_group_as_incomplete():
    frames, info = load("audit")
    no_eoe = [f for f in frames if split_datagram(f)[0] != 1320]
    a, events = _assemble(no_eoe, info)
    _b, full = _assemble(frames, info)
    assert sorted(map(repr, events)) == sorted(map(repr, full))
    assert a.incomplete > 0


def test_truncated_and_corrupt_records_are_counted_and_skipped():
    frames, info = load("audit")
    a = Assembler(info["syscalls"])
    for f in frames[:12]:
        for bad in cuts(f, step=7):
            a.feed(bad)
    a.flush(everything=True)
    assert a.parse_errors > 0
    a2 = Assembler(info["syscalls"])
    assert a2.feed(b"\x00" * 8) == [] and a2.parse_errors == 1
    assert a2.feed(frames[0][:16] + b"garbage without header") == [] and a2.parse_errors == 2


def test_the_nlmsg_len_quirk_and_values():
    frames, _ = load("audit")
    mtype, text = split_datagram(frames[0])
    assert 1300 <= mtype < 1400 and text.startswith(b"audit(")
    rec = parse_record(mtype, text)
    assert rec.serial > 0 and rec.sec > 1_600_000_000
    assert decode_value(b'"/tmp/a b"') == b"/tmp/a b"
    assert decode_value(b"2F746D70") == b"/tmp"
    assert decode_value(b"(null)") is None and decode_value(b'"unterminated') is None


def test_the_replace_probe_is_not_a_parse_error():
    # AUDIT_REPLACE (1329) carries a binary pid: the kernel sends it when the audit pid is
    # set, and it reaches the new consumer.
    frames, info = load("audit")
    a = Assembler(info["syscalls"])
    probe = (20).to_bytes(4, "little") + (1329).to_bytes(2, "little") + bytes(10) + bytes(4)
    assert a.feed(probe) == [] and a.parse_errors == 0 and a.other_records == 1


# -- records built as this kernel writes them (checked live: python 3.11, kernel 6.18) --

def _datagram(mtype: int, serial: int, body: str) -> bytes:
    text = f"audit(1796213746.373:{serial}): {body}".encode()
    return struct.pack("<IHHII", len(text), mtype, 0, 0, 0) + text  # the nlmsg_len quirk


def _syscall(nr: int, args: str, success: str = "yes", pid: int = 4100) -> str:
    return (f"arch=c000003e syscall={nr} success={success} exit=4 {args} items=2 "
            f"ppid=4000 pid={pid} auid=4294967295 uid=0 comm=\"python\" key=\"sb\"")


def _path(name: str, nametype: str, item: int = 1) -> str:
    return f'item={item} name="{name}" inode=1507362 dev=fe:00 mode=0100600 nametype={nametype}'


def _decode(*records: tuple[int, str], serial: int = 14) -> tuple[Assembler, list]:
    a = Assembler(X86)
    out = []
    for mtype, body in (*records, (1320, "")):
        out += a.feed(_datagram(mtype, serial, body))
    return a, out


def _kinds(events) -> list[tuple[Kind, str | None]]:
    return [(e.kind, e.path) for e in events]


def test_connect_is_keyed_by_server_port_and_pid():
    a, events = _decode((1300, _syscall(X86["connect"], "a0=4 a1=7fff189a1d40 a2=10 a3=0")),
                        (1306, "saddr=0200A7DF7F0000010000000000000000"))
    assert [(e.kind, e.key, e.pid) for e in events] == [
        (Kind.net_connect, port_pair(0, 0xA7DF), 4100)]
    assert a.parse_errors == 0 and a.unkeyed == 0


def test_connect_ipv6_and_what_is_not_a_connect_to_key():
    v6 = "0A00A7DF000000000000000000000000000000000000000100000000"
    _a, events = _decode((1300, _syscall(X86["connect"], "a0=4")), (1306, f"saddr={v6}"))
    assert [e.key for e in events] == [0xA7DF]
    # AF_UNIX (the rules filter it out; a record of one is still not a network connect)
    _a, events = _decode((1300, _syscall(X86["connect"], "a0=4")),
                         (1306, "saddr=01002F72756E2F666F6F00"))
    assert events == []
    # no SOCKADDR record: recognised, not keyable
    a, events = _decode((1300, _syscall(X86["connect"], "a0=4")))
    assert events == [] and a.unkeyed == 1
    # a failed connect is no connect (the rules ask for success only anyway)
    _a, events = _decode((1300, _syscall(X86["connect"], "a0=4", success="no")),
                         (1306, "saddr=0200A7DF7F0000010000000000000000"))
    assert events == []


@pytest.mark.parametrize("flags, created, writes", [
    ("800c1", True, True),    # O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC: the file workload's create
    ("80000", False, False),  # O_RDONLY
    ("80002", False, True),   # O_RDWR
    ("80200", False, True),   # O_RDONLY|O_TRUNC: changes the file
    ("80040", True, False),   # O_RDONLY|O_CREAT: a create, not a write
])
def test_openat_flags_tell_an_open_for_writing(flags, created, writes):
    p = f"{DIR}/sbcafe0001-0000000.new"
    a, events = _decode((1300, _syscall(X86["openat"], f"a0=ffffff9c a1=7f0d8f810a50 "
                                                       f"a2={flags} a3=180")),
                        (1307, 'cwd="/work/main"'),
                        (1302, _path(f"{DIR}/", "PARENT", 0)),
                        (1302, _path(p, "CREATE" if created else "NORMAL")))
    assert _kinds(events) == ([(Kind.file_create, p)] if created else []) + (
        [(Kind.file_write, p)] if writes else [])
    assert a.parse_errors == 0


def test_open_creat_and_openat2_read_their_flags_where_they_are():
    p = f"{DIR}/x.new"
    # open(2): flags in a1
    _a, events = _decode((1300, _syscall(X86["open"], "a0=7f0d8f871310 a1=241 a2=1b6")),
                         (1302, _path(p, "CREATE")))
    assert _kinds(events) == [(Kind.file_create, p), (Kind.file_write, p)]
    # creat(2) always writes; a2 is garbage
    _a, events = _decode((1300, _syscall(X86["creat"], "a0=7f0d8f871310 a1=180 "
                                                       "a2=2020202020202020")),
                         (1302, _path(p, "CREATE")))
    assert _kinds(events) == [(Kind.file_create, p), (Kind.file_write, p)]
    # openat2(2): a2 points at struct open_how; the OPENAT2 record has its flags (octal)
    sc = _syscall(X86["openat2"], "a0=ffffffffffffff9c a1=7f0d8f861f40 a2=7f0d8f871310 a3=18")
    _a, events = _decode((1300, sc), (1337, "oflag=0101 mode=0600 resolve=0x0"),
                         (1302, _path(p, "CREATE")))
    assert _kinds(events) == [(Kind.file_create, p), (Kind.file_write, p)]
    _a, events = _decode((1300, sc), (1337, "oflag=0 mode=0 resolve=0x0"),
                         (1302, _path(p, "NORMAL")))
    assert events == []
    # its OPENAT2 record lost: the create still counts, the access cannot be told
    a, events = _decode((1300, sc), (1302, _path(p, "CREATE")))
    assert _kinds(events) == [(Kind.file_create, p)] and a.parse_errors == 1


def test_a_failed_open_is_neither_create_nor_write():
    _a, events = _decode((1300, _syscall(X86["openat"], "a0=ffffff9c a2=800c1", success="no")),
                         (1302, _path(f"{DIR}/x.new", "CREATE")))
    assert events == []


def _rule(rule: bytes) -> tuple[set[int], dict[int, int]]:
    """(syscall numbers, {field: value}) of an encoded ``struct audit_rule_data``."""
    n = struct.unpack_from("=I", rule, 8)[0]
    mask = struct.unpack_from("=64I", rule, 12)
    fields = struct.unpack_from("=64I", rule, 12 + 256)[:n]
    values = struct.unpack_from("=64I", rule, 12 + 512)[:n]
    return ({w * 32 + b for w in range(64) for b in range(32) if mask[w] >> b & 1},
            dict(zip(fields, values)))


def test_the_connect_rules_ask_for_success_and_an_inet_family():
    table = rules.machine_table()
    if table is None:
        pytest.skip("no syscall table for this machine")
    connects = [fields for nrs, fields in map(_rule, rules.sensor_rules("k", DIR))
                if table[1]["connect"] in nrs]
    assert [f.get(rules.AUDIT_SADDR_FAM) for f in connects] == list(rules.INET_FAMILIES)
    assert all(f.get(rules.AUDIT_SUCCESS) == 1 and rules.AUDIT_DIR not in f
               for f in connects)
