"""Audit record assembly on records recorded from this kernel (``tests/fixtures/capture.py``)
and on broken ones: truncated, corrupted, out of order, missing their EOE."""

from __future__ import annotations

from bench.backends.audit.parse import (Assembler, decode_value, parse_record,
                                        split_datagram)
from bench.core.kinds import Kind, port_pair
from fixtures.frames import cuts, load

SERVER_PORT = 4242


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


def test_no_write_or_connect_events_are_invented():
    frames, info = load("audit")
    _a, events = _assemble(frames, info)
    assert not {e.kind for e in events} & {Kind.file_write, Kind.net_connect, Kind.net_send}


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
