"""Parsers of the user-mode backends on raw messages recorded on a real kernel
(``tests/fixtures/capture.py``), and on truncated and corrupted copies of them: bad input
is counted in ``parse_errors`` and skipped, never raised."""

from __future__ import annotations

import struct


from bench.backends.fanotify.parse import Decoder as FanDecoder
from bench.backends.inotify.parse import Decoder as InDecoder
from bench.backends.proc_connector.parse import Decoder as CnDecoder
from bench.backends.proc_connector.parse import CN_MSG, EV_HDR
from bench.core.kinds import Kind
from fixtures.frames import cuts, load


def _file_kinds(events, to_path):
    return sorted((int(e.kind), to_path(e)) for e in events)


def _expected_file_events(paths):
    out = []
    for new in paths:
        ren = new[:-4] + ".ren"
        out += [(int(Kind.file_create), new), (int(Kind.file_write), new),
                (int(Kind.file_rename), ren), (int(Kind.file_delete), ren)]
    return sorted(out)


# --- inotify -----------------------------------------------------------------------------

def test_inotify_recorded_buffers_decode_to_the_operations():
    frames, info = load("inotify")
    d = InDecoder({info["wd"]: info["dir"]})
    events = [e for f in frames for e in d.decode(f)]
    assert _file_kinds(events, lambda e: e.path) == _expected_file_events(info["paths"])
    assert d.parse_errors == 0 and d.overflows == 0


def test_inotify_truncated_and_corrupt_buffers_are_counted_not_raised():
    frames, info = load("inotify")
    buf = b"".join(frames)
    errors = 0
    for bad in cuts(buf):
        d = InDecoder({info["wd"]: info["dir"]})
        d.decode(bad)
        errors += d.parse_errors
    assert errors > 0
    # A cut inside the second record keeps the first and counts one error.
    d = InDecoder({info["wd"]: info["dir"]})
    (first_len,) = struct.unpack_from("=I", buf, 12)
    got = d.decode(buf[:16 + first_len + 5])
    assert len(got) == 1 and d.parse_errors == 1


def test_inotify_overflow_record_is_counted():
    d = InDecoder({1: "/x"})
    assert d.decode(struct.pack("=iIII", -1, 0x4000, 0, 0)) == []
    assert d.overflows == 1 and d.parse_errors == 0


# --- fanotify ----------------------------------------------------------------------------

def test_fanotify_recorded_buffers_decode_to_the_operations():
    frames, info = load("fanotify")
    d = FanDecoder("close_write")
    events = [e for f in frames for e in d.decode(f)]
    assert {e.dir_id.hex() for e in events} == {info["dir_id"]}
    got = _file_kinds(events, lambda e: f"{info['dir']}/{e.name}")
    assert got == _expected_file_events(info["paths"])
    assert d.parse_errors == 0 and d.overflows == 0


def test_fanotify_modify_is_not_a_second_write():
    # The fixture's mark asked for MODIFY too: with write_event=close_write only the
    # close-write becomes file_write, so one write+close is one event.
    frames, info = load("fanotify")
    for write_event in ("close_write", "modify"):
        d = FanDecoder(write_event)
        events = [e for f in frames for e in d.decode(f)]
        writes = [e for e in events if e.kind == Kind.file_write]
        assert len(writes) == len(info["paths"])


def test_fanotify_truncated_and_corrupt_buffers_are_counted_not_raised():
    frames, _ = load("fanotify")
    buf = b"".join(frames)
    errors = 0
    for bad in cuts(buf):
        d = FanDecoder()
        d.decode(bad)
        errors += d.parse_errors
    assert errors > 0
    d = FanDecoder()
    d.decode(buf[:30])
    assert d.parse_errors == 1


def test_fanotify_overflow_event_is_counted():
    meta = struct.pack("=IBBHQii", 24, 3, 0, 24, 0x4000, -1, 0)
    d = FanDecoder()
    assert d.decode(meta) == [] and d.overflows == 1 and d.parse_errors == 0


# --- proc connector ----------------------------------------------------------------------

def test_cn_proc_recorded_messages_show_fork_exec_exit_of_each_child():
    frames, info = load("cn_proc")
    d = CnDecoder()
    events = [e for f in frames for e in d.decode(f)]
    for pid in info["pids"]:
        kinds = [e.kind for e in events if e.pid == pid]
        assert kinds == [Kind.proc_fork, Kind.proc_exec, Kind.proc_exit], (pid, kinds)
    assert d.parse_errors == 0 and d.lost == 0
    assert all(e.t_kernel > 0 for e in events)


def test_cn_proc_sequence_gap_is_counted_as_loss():
    frames, _ = load("cn_proc")
    per_cpu: dict[int, list[bytes]] = {}
    for f in frames:
        _idx, _val, _seq, _ack, _len, _fl = CN_MSG.unpack_from(f, 16)
        what, cpu, _ts = EV_HDR.unpack_from(f, 16 + CN_MSG.size)
        if what:
            per_cpu.setdefault(cpu, []).append(f)
    cpu, msgs = max(per_cpu.items(), key=lambda kv: len(kv[1]))
    assert len(msgs) >= 4
    d = CnDecoder()
    for f in msgs[:1] + msgs[3:]:  # drop two messages of one CPU
        d.decode(f)
    assert d.lost == 2


def test_cn_proc_truncated_and_corrupt_messages_are_counted_not_raised():
    frames, _ = load("cn_proc")
    errors = 0
    for f in frames[:5]:
        for bad in cuts(f):
            d = CnDecoder()
            d.decode(bad)
            errors += d.parse_errors
    assert errors > 0
    d = CnDecoder()
    assert d.decode(frames[0][:16 + CN_MSG.size + 4]) == [] and d.parse_errors == 1
