"""The audit consumer's C path (``parser=c``: ``_native/audit.c`` through
``bench.backends.audit.fastpath``) against the Python reference (``parse.Assembler``): on the
records recorded from this kernel, on records built as the kernel writes them, on odd values
and on every truncated and corrupted copy of the recorded datagrams, the same events (kind,
key, pid, path, t) in the same order, the same counters, the same parse-error samples and
tamper reports, and never a crash. The C records go through the backend's own shaping into
a real ``EventSink``; only the socket is missing (``feed``)."""

from __future__ import annotations

import random
import struct
import time

import pytest

from bench.backends import _batch
from bench.backends.audit import rules
from bench.backends.audit.parse import Assembler, split_datagram
from bench.core.events import EventSink
from bench.core.kinds import Kind, port_pair
from fixtures.frames import cuts, load, mutations

pytestmark = pytest.mark.skipif(_batch.missing() is not None,
                                reason=f"C reader: {_batch.missing()}")

OFFSET = 1_795_000_000 * 10**9 + 123_456_789  # realtime - monotonic, any value will do
SERVER_PORT = 4242
X86 = rules.SYSCALLS["x86_64"][1]
DIR = "/var/tmp/sensorbench-0/sbcafe0001"
COUNTERS = ("records", "parse_errors", "incomplete", "other_records", "unkeyed")


def _server_port(pid: int, fd: int) -> int | None:
    """A listening socket that exists for fd 3 and 5 only (others: not found)."""
    return {3: SERVER_PORT, 5: SERVER_PORT + 1}.get(fd)


def _python(frames, syscalls, listen_port=_server_port, stopping=False):
    a = Assembler(syscalls, listen_port)
    a.stopping = stopping
    events = [e for f in frames for e in a.feed(f)] + a.flush(everything=True)
    rows = [(int(e.kind), e.key, e.pid, e.path, e.t_wall_ns - OFFSET) for e in events]
    return a, rows


def _native(frames, syscalls, listen_port=_server_port, stopping=False, cap=_batch.CAP,
            one_by_one=False):
    from bench.backends.audit.fastpath import NativeAssembler

    sink = EventSink()
    # no flush by age (the reference above has none either): a slow test is no EOE lost
    n = NativeAssembler(-1, sink, syscalls, listen_port, OFFSET, stale_s=1e6, cap=cap)
    n.stopping = stopping
    if one_by_one:
        for f in frames:
            n.feed(f)
    else:
        n.feed(*frames)
    n.flush(everything=True)
    assert n.open_groups() == 0
    c = sink.columns()
    rows = list(zip(c["kind"].tolist(), c["key"].tolist(), c["pid"].tolist(),
                    c["path"].tolist(), c["t_kernel"].tolist()))
    n.stop()
    return n, rows


def _same(frames, syscalls=X86, **kw):
    """C and Python on the same datagrams: same events, counters, samples, tamper."""
    a, want = _python(frames, syscalls, kw.get("listen_port", _server_port),
                      kw.get("stopping", False))
    n, got = _native(frames, syscalls, **kw)
    if any(not -2**63 <= v < 2**63 for row in want for v in (row[1], row[2], row[4])):
        # An event the reference would fail on in the sink (a time or pid beyond int64,
        # only in damaged input): nothing to compare with; C did not crash.
        return want, a
    assert got == want
    assert n.counts() == {k: getattr(a, k) for k in COUNTERS}
    assert n.asm.bad_samples == a.bad_samples
    assert n.asm.config_changes == a.config_changes
    return want, a


# --- the recording ------------------------------------------------------------------------

def test_recorded_records_same_as_python():
    frames, info = load("audit")
    want, a = _same(frames, info["syscalls"])
    assert len(want) >= 20 and a.parse_errors == 0
    kinds = {k for k, *_ in want}
    assert {int(Kind.proc_fork), int(Kind.proc_exec), int(Kind.proc_exit),
            int(Kind.file_create), int(Kind.file_write), int(Kind.file_rename),
            int(Kind.file_delete), int(Kind.net_accept)} <= kinds
    # handed over one datagram at a time, and through an output of 16 records
    _same(frames, info["syscalls"], one_by_one=True)
    _same(frames, info["syscalls"], cap=16)


def test_recorded_accept_looked_up_once_per_socket_and_unkeyed_when_gone():
    frames, info = load("audit")
    asked = []

    def port(pid, fd):
        asked.append((pid, fd))
        return SERVER_PORT

    want, _a = _same(frames, info["syscalls"], listen_port=port)
    client, _server = info["ports"]
    assert [k for kind, k, *_ in want if kind == int(Kind.net_accept)] == [
        port_pair(client, SERVER_PORT)]
    _a, _rows = _python(frames, info["syscalls"], lambda pid, fd: None)
    assert _a.unkeyed == 1
    _same(frames, info["syscalls"], listen_port=lambda pid, fd: None)


def test_lost_eoes_same_as_python():
    frames, info = load("audit")
    no_eoe = [f for f in frames if split_datagram(f)[0] != 1320]
    _want, a = _same(no_eoe, info["syscalls"])
    assert a.incomplete > 0
    _same(frames[::2], info["syscalls"])  # every other record lost


def test_every_cut_of_every_datagram_same_as_python():
    frames, info = load("audit")
    for f in frames:
        _same(list(cuts(f)), info["syscalls"], cap=16)


def test_the_recording_with_one_datagram_cut_same_as_python():
    frames, info = load("audit")
    for i, f in enumerate(frames):
        for at in (len(f) // 3, 2 * len(f) // 3, len(f) - 1):
            _same(frames[:i] + [f[:at]] + frames[i + 1:], info["syscalls"])


AUDIT_TEXT = b'0123456789abcdefx_-+" =/\x00\n'  # what audit records are made of


def test_random_damage_same_as_python():
    frames, info = load("audit")
    rnd = random.Random(7)
    for _ in range(60):
        damaged = [next(mutations(f, 1, rnd.randrange(1 << 30), AUDIT_TEXT))
                   if rnd.random() < 0.3 else f for f in frames]
        _same(damaged, info["syscalls"], cap=16)


# --- records built as this kernel writes them ---------------------------------------------

def _datagram(mtype: int, serial: int, body: str | bytes, sec: str = "1796213746.373") -> bytes:
    body = body.encode() if isinstance(body, str) else body
    text = f"audit({sec}:{serial}): ".encode() + body
    return struct.pack("<IHHII", len(text), mtype, 0, 0, 0) + text  # the nlmsg_len quirk


def _syscall(nr: int, args: str, success: str = "yes", pid: int = 4100, exit_: str = "4") -> str:
    return (f"arch=c000003e syscall={nr} success={success} exit={exit_} {args} items=2 "
            f"ppid=4000 pid={pid} auid=4294967295 uid=0 comm=\"python\" key=\"sb\"")


def _path(name: str, nametype: str, item: int = 1) -> str:
    return f'item={item} name={name} inode=1507362 dev=fe:00 mode=0100600 nametype={nametype}'


def _event(*records: tuple[int, str], serial: int = 14, eoe: bool = True) -> list[bytes]:
    out = [_datagram(t, serial, body) for t, body in records]
    return out + ([_datagram(1320, serial, "")] if eoe else [])


SADDR4 = "saddr=0200A7DF7F0000010000000000000000"
SADDR6 = "saddr=0A00A7DF000000000000000000000000000000000000000100000000"
P = f'"{DIR}/x.new"'


def test_connects_same_as_python():
    c = X86["connect"]
    want, _ = _same(_event((1300, _syscall(c, "a0=4 a1=7fff189a1d40 a2=10")), (1306, SADDR4))
                    + _event((1300, _syscall(c, "a0=4")), (1306, SADDR6), serial=15)
                    + _event((1300, _syscall(c, "a0=4")), (1306, "saddr=01002F72756E2F666F6F00"),
                             serial=16)                       # AF_UNIX: no event
                    + _event((1300, _syscall(c, "a0=4")), serial=17)  # no SOCKADDR: unkeyed
                    + _event((1300, _syscall(c, "a0=4", success="no")), (1306, SADDR4),
                             serial=18)
                    + _event((1300, _syscall(c, "a0=4")), (1306, 'saddr="\x02\x00\xa7\xdfabcd"'),
                             serial=19)                       # quoted bytes, as decode_value
                    + _event((1300, _syscall(c, "a0=4")), (1306, "saddr=0200A7DF"), serial=20))
    assert [(k, key, pid) for k, key, pid, *_ in want][:2] == [
        (int(Kind.net_connect), 0xA7DF, 4100)] * 2


@pytest.mark.parametrize("flags", ["800c1", "80000", "80002", "80200", "80040", "0x241",
                                   "-1", "+3", "1_0_2", "_2", "2_", "2__0", '"2"', "",
                                   "fffffffffffffffffffff1", "0x_1", "0x", "zz"])
def test_openat_flags_same_as_python(flags):
    for nametype in ("CREATE", "NORMAL"):
        _same(_event((1300, _syscall(X86["openat"], f"a0=ffffff9c a2={flags} a3=180")),
                     (1307, 'cwd="/work/main"'), (1302, _path(f'"{DIR}/"', "PARENT", 0)),
                     (1302, _path(P, nametype))))


def test_open_creat_openat2_same_as_python():
    sc2 = _syscall(X86["openat2"], "a0=ffffffffffffff9c a2=7f0d8f871310 a3=18")
    want, _ = _same(
        _event((1300, _syscall(X86["open"], "a0=7f0d8f871310 a1=241 a2=1b6")),
               (1302, _path(P, "CREATE")))
        + _event((1300, _syscall(X86["creat"], "a1=180 a2=2020202020202020")),
                 (1302, _path(P, "CREATE")), serial=15)
        + _event((1300, sc2), (1337, "oflag=0101 mode=0600 resolve=0x0"),
                 (1302, _path(P, "CREATE")), serial=16)
        + _event((1300, sc2), (1337, "oflag=0 mode=0 resolve=0x0"),
                 (1302, _path(P, "NORMAL")), serial=17)
        + _event((1300, sc2), (1302, _path(P, "CREATE")), serial=18)   # OPENAT2 lost
        + _event((1300, sc2), (1337, "oflag=0o1"), (1337, "oflag=0"),   # the first counts
                 (1302, _path(P, "NORMAL")), serial=19)
        + _event((1300, sc2), (1337, "oflag=9"), (1302, _path(P, "NORMAL")), serial=20)
        + _event((1300, _syscall(X86["openat"], "a2=800c1", success="no")),
                 (1302, _path(P, "CREATE")), serial=21))
    assert len(want) == 8


def test_paths_same_as_python():
    o = X86["openat"]
    cases = [
        [(1307, 'cwd="/work/main"'), (1302, _path('"rel/x.new"', "CREATE"))],
        [(1307, 'cwd="/"'), (1302, _path('"x.new"', "CREATE"))],
        [(1307, 'cwd="/a//"'), (1302, _path('"x.new"', "CREATE"))],
        [(1307, "cwd=2F776F726B"), (1302, _path("782E6E6577", "CREATE"))],   # hex
        [(1307, "cwd=(null)"), (1302, _path('"x.new"', "CREATE"))],
        [(1302, _path('"x.new"', "CREATE"))],                                # no CWD
        [(1307, 'cwd=""'), (1302, _path('"x.new"', "CREATE"))],
        [(1302, _path('""', "CREATE")), (1302, _path(P, "CREATE"))],        # first: empty
        [(1302, _path("(null)", "CREATE"))],
        [(1302, _path("ABC", "CREATE"))],                                   # odd hex
        [(1302, _path('"/unterminated', "CREATE"))],
        [(1302, _path("2F7661722F00612E6E6577", "CREATE"))],                # a NUL byte
        [(1302, _path("2F76E9", "CREATE"))],                                # not UTF-8
        [(1302, "item=1 nametype=CREATE")],                                 # no name
        [(1302, f"name={P} nametype=CREATE name=\"/other\"")],              # last name wins
        [(1302, _path(P, "NORMAL")), (1302, _path('"/b"', "NORMAL"))],
        [(1307, 'cwd="/w"'), (1307, 'cwd="/v"'), (1302, _path('"x"', "CREATE"))],
        [(1302, 'name="/a b" nametype=CREATE')],                            # a space
        [(1302, 'name="/a\nb" nametype=CREATE')],                           # a newline
    ]
    frames = []
    for i, recs in enumerate(cases):
        frames += _event((1300, _syscall(o, "a2=241")), *recs, serial=100 + i)
        frames += _event((1300, _syscall(X86["rename"], "")), *recs, serial=200 + i)
        frames += _event((1300, _syscall(X86["unlinkat"], "")),
                         *[(t, b.replace("CREATE", "DELETE")) for t, b in recs], serial=300 + i)
    want, _ = _same(frames)
    assert any(p and "\0" in p for *_, p, _t in want)
    assert any(p and "\udce9" in p for *_, p, _t in want)


def test_processes_same_as_python():
    ex, cl = X86["execve"], X86["clone"]
    frames = (
        _event((1300, _syscall(ex, "a0=1", pid=10)),
               (1309, 'argc=3 a0="/bin/true" a1=736266 a2="x y"'), (1309, 'argc=1 a0="no"'))
        + _event((1300, _syscall(ex, "", pid=11)), (1309, "argc=2 a0=\"/bin/x\""), serial=15)
        + _event((1300, _syscall(ex, "", pid=12)), (1309, 'argc=abc a0="x"'), serial=16)
        + _event((1300, _syscall(ex, "", pid=13)), (1309, 'argc=-1 a0="x"'), serial=17)
        + _event((1300, _syscall(ex, "", pid=14)), (1309, 'a0="x"'), serial=18)
        + _event((1300, _syscall(ex, "", pid=15)),
                 (1309, "argc=99999999999999999999999 " +
                  " ".join(f"a{i}=\"{i}\"" for i in range(70))), serial=19)
        + _event((1300, _syscall(ex, "", pid=16)), (1309, 'argc=2 a0="" a1=""'), serial=20)
        + _event((1300, _syscall(ex, "", pid=17)), (1309, 'argc=1 a0=""'), serial=21)
        + _event((1300, _syscall(ex, "", pid=18)), (1309, 'argc=2 a0=6100 a1="b"'), serial=22)
        + _event((1300, _syscall(ex, "", pid=19)),
                 (1309, 'argc=2 a0_len=20000 a0[0]="x" a1="y"'), serial=23)
        + _event((1300, _syscall(ex, "", pid=20, success="no")), serial=24)
        + _event((1300, _syscall(ex, "", pid=21)), (1309, 'argc=1 a01="x" a00="y"'), serial=25)
        + _event((1300, _syscall(cl, "", pid=30, exit_="31")), serial=26)
        + _event((1300, _syscall(cl, "", pid=30, exit_="-11")), serial=27)
        + _event((1300, _syscall(cl, "", pid=30, exit_="x")), serial=28)
        + _event((1300, _syscall(cl, "", pid=30, exit_="x", success="no")), serial=29)
        + _event((1300, _syscall(cl, "", pid=30, exit_="0")), serial=30)
        + _event((1300, _syscall(cl, "", pid=30, exit_="-99999999999999999999")), serial=31)
        + _event((1300, _syscall(X86["exit_group"], "", pid=40, success="no")), serial=32)
        + _event((1300, _syscall(X86["vfork"], "", pid=40, exit_="3_2")), serial=33)
        + _event((1300, "arch=c000003e syscall=59 success=yes pid=x"), serial=34)
        + _event((1300, "arch=c000003e success=yes pid=5"), serial=35)
        + _event((1300, "arch=c000003e syscall=9999999999999999999999 success=yes pid=5"),
                 serial=36)
        + _event((1300, "arch=c000003e syscall=59 success=yes pid=5 pid=6 success=no"),
                 serial=37)
        + _event((1300, _syscall(ex, "", pid=50)), (1300, _syscall(ex, "", pid=51)),
                 serial=38)                                            # the first counts
        + _event((1300, 'syscall="59" success=yes pid=5'), serial=39)
        + _event((1300, "syscall=999 success=yes pid=5"), serial=40)    # not ours
    )
    want, a = _same(frames)
    assert a.parse_errors >= 4
    assert (int(Kind.proc_exec), 10, 10, "/bin/true sbf x y", -OFFSET +
            1796213746373 * 10**6) in want


def test_accepts_same_as_python():
    acc = X86["accept4"]
    frames = (_event((1300, _syscall(acc, "a0=3")), (1306, SADDR4))
              + _event((1300, _syscall(acc, "a0=5", pid=4101)), (1306, SADDR6), serial=15)
              + _event((1300, _syscall(acc, "a0=3", pid=4101)), (1306, SADDR4), serial=16)
              + _event((1300, _syscall(acc, "a0=9")), (1306, SADDR4), serial=17)  # not found
              + _event((1300, _syscall(acc, "")), (1306, SADDR4), serial=18)      # no a0
              + _event((1300, _syscall(acc, "a0=zz")), (1306, SADDR4), serial=19)
              + _event((1300, _syscall(acc, "a0=3")), serial=20)                  # no SOCKADDR
              + _event((1300, _syscall(acc, "a0=3")), (1306, "saddr=01002F72"), serial=21)
              + _event((1300, _syscall(acc, "a0=-0x3")), (1306, SADDR4), serial=22))
    asked = []

    def port(pid, fd):
        asked.append((pid, fd))
        return _server_port(pid, fd)

    want, a = _same(frames, listen_port=port)
    assert [k for _kind, k, *_ in want] == [port_pair(0xA7DF, SERVER_PORT),
                                            port_pair(0xA7DF, SERVER_PORT + 1),
                                            port_pair(0xA7DF, SERVER_PORT)]
    assert a.unkeyed == 6   # a0 not found, missing, not a number, negative; no SOCKADDR, short
    asked.clear()
    _native(frames, X86, port)
    # once per distinct (pid, fd) of the batch, not once per accept
    assert sorted(asked) == sorted({(4100, 3), (4101, 5), (4101, 3), (4100, 9), (4100, -3)})


def _config(serial: int, body: str) -> bytes:
    return _datagram(1305, serial, body)


def test_config_changes_same_as_python_and_end_the_batch():
    frames = [
        _config(1, 'auid=0 ses=1 op=remove_rule key="other" list=4 res=1'),
        _config(2, "op=set audit_enabled=0 old=1 auid=1000 ses=2 res=1"),
        _config(3, 'auid=0 ses=1 op=add_rule key="sb" list=4 res=1'),   # not tampering
        _config(4, "op=set audit_enabled=1 old=1 auid=0 res=1"),
        _datagram(1305, 5, b"op=remove_rule auid=\xff\xe7 res=1"),  # not UTF-8: no crash
    ] + _event((1300, _syscall(X86["exit_group"], "")), serial=6)
    _same(frames)
    _same(frames, stopping=True)
    # each CONFIG_CHANGE ends the batch: Python reads it before anything after it
    from bench.backends.audit.fastpath import NativeAssembler

    n = NativeAssembler(-1, EventSink(), X86)
    n.feed(*frames[:4])
    assert n.reader.batches == 4 and len(n.asm.config_changes) == 2
    n.stop()


def test_odd_datagrams_same_as_python():
    ok = _event((1300, _syscall(X86["exit_group"], "")))
    frames = [
        b"", b"\x00" * 8, ok[0][:16],                      # shorter than a header / empty
        struct.pack("<IHHII", 9999, 1300, 0, 0, 0) + b"audit(1.000:1): x=1",  # len beyond
        struct.pack("<IHHII", 5, 1300, 0, 0, 0) + b"audit(1.000:1): x=1",     # len short
        _datagram(1300, 1, "x", sec="1.23"),                # two-digit msec: no header
        _datagram(1300, 1, "x", sec="a.123"),
        _datagram(1300, 1, "x", sec="1" * 4301 + ".123"),   # over int()'s digit limit
        _datagram(1300, 2**64 - 1, _syscall(X86["exit_group"], "")),
        _datagram(1320, 2**64 - 1, ""),
        _datagram(1329, 0, "binary"),                       # the REPLACE probe
        _datagram(1100, 0, "user message"),
        _datagram(1400, 0, "out of range"),
        _datagram(1299, 0, "out of range"),
        _datagram(1327, 50, "proctitle=00"),                # a part without its SYSCALL
        _datagram(1320, 50, ""),
        _datagram(1320, 51, ""),                            # EOE of nothing
        _datagram(1321, 52, "fver=0"),                      # never ended: flushed
        _datagram(1300, 53, _syscall(X86["exit_group"], "")) + b"\n\x00\x00",
        _datagram(1320, 53, "") + b"\x00",
        struct.pack("<IHHII", 40, 1320, 0, 0, 0) + b"audit(1.000:54): " + b"\x00" * 23,
        _datagram(1300, 55, b"syscall=231 pid=5 \xff\xfe=1 a\x00b=2 k=\"x"),
        _datagram(1320, 55, ""),
    ] + ok
    # "len beyond" is refused only when it is not the padded length of the datagram
    _want, a = _same(frames)
    assert a.parse_errors >= 6 and len(a.bad_samples) == 3 and a.incomplete >= 2
    # the samples are the first three whatever their cause
    for start in range(4):
        _same(frames[start:])


def test_a_serial_beyond_64_bits_is_a_parse_error_in_c():
    # The one place C does not follow Python (which would group by it): no kernel writes
    # one (audit serials are 32-bit).
    n, rows = _native([_datagram(1300, 2**64, _syscall(X86["exit_group"], "")),
                       _datagram(1320, 2**64, "")], X86)
    assert rows == [] and n.counts()["parse_errors"] == 2
    assert len(n.asm.bad_samples) == 2 and "beyond 64 bits" in n.asm.bad_samples[0]


def test_stale_groups_are_flushed_by_age():
    from bench.backends.audit.fastpath import NativeAssembler

    sink = EventSink()
    n = NativeAssembler(-1, sink, X86, offset_ns=OFFSET, stale_s=0.05)
    n.feed(*_event((1300, _syscall(X86["exit_group"], "", pid=7)), eoe=False))
    n.feed(_datagram(1321, 99, "x"))
    assert len(sink) == 0 and n.open_groups() == 2
    time.sleep(0.6)   # older than stale_s, and past the 0.5 s between checks
    n.feed(_datagram(1321, 100, "x"))   # any datagram: the old groups go first
    assert n.open_groups() == 1
    assert sink.columns()["key"].tolist() == [7]
    assert n.counts()["incomplete"] == 3   # both flushed; 99 has no SYSCALL either
    n.stop()


def test_many_open_groups_and_a_full_output():
    # 3000 interleaved events whose EOEs come last, through a 16-record output
    frames = [_datagram(1300, s, _syscall(X86["exit_group"], "", pid=s)) for s in range(3000)]
    frames += [_datagram(1320, s, "") for s in range(2999, -1, -1)]
    want, _ = _same(frames, cap=16)
    assert len(want) == 3000
    want, _ = _same(frames[:3000], cap=16)   # no EOE at all: all flushed at the end
    assert [k for _, k, *_ in want] == list(range(3000))
