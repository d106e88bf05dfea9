"""The Windows plumbing that can be checked anywhere: Job Object structure layouts and CPU
units, ETW session names of ours and which are stale, what ``Sysmon64.exe -c`` says, and
the pipe reader both platforms use."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

import pytest

from bench.backends._etw import session
from bench.backends.sysmon import _windows as sysmon
from bench.harness import jobobject, pipes

pytestmark = pytest.mark.windows


@pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8, reason="64-bit layouts")
def test_job_object_structures_have_the_sizes_windows_documents():
    # JOBOBJECT_BASIC_ACCOUNTING_INFORMATION 48, JOBOBJECT_EXTENDED_LIMIT_INFORMATION 144
    # (its BASIC_LIMIT part 64, IO_COUNTERS 48) on 64-bit Windows
    assert ctypes.sizeof(jobobject.BasicAccounting) == 48
    assert ctypes.sizeof(jobobject.ExtendedLimit) == 144
    assert jobobject.ExtendedLimit.IoInfo.offset == 64
    assert jobobject.BasicAccounting.TotalPageFaultCount.offset == 32


def test_job_cpu_is_user_plus_kernel_in_microseconds():
    acct = jobobject.BasicAccounting(TotalUserTime=12_345_670, TotalKernelTime=5_000_000)
    assert jobobject.cpu_us(acct) == 1_734_567     # 100 ns units -> µs


def test_session_names_carry_our_pid_and_stale_means_its_run_is_gone():
    name = session.session_name()
    assert name.startswith(session.PREFIX) and session.owner(name) == os.getpid()
    assert not session.is_stale(name)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert session.is_stale(f"{session.PREFIX}{dead.pid}-abcdef")
    # sessions that are not ours are never touched
    for other in ("NT Kernel Logger", "EventLog-System", "sensorbench", "sensorbench-x-1"):
        assert session.owner(other) is None and not session.is_stale(other)


DUMP = """
System Monitor v15.15 - System activity monitor
By Mark Russinovich and Thomas Garnier
Copyright (C) 2014-2024 Microsoft Corporation
Using libxml2. libxml2 is Copyright (C) 1998-2012 Daniel Veillard. All Rights Reserved.
Sysinternals - www.sysinternals.com

Current configuration:
 - Service name:                  Sysmon64
 - Driver name:                   SysmonDrv
 - Config file:                   C:\\sb\\bench\\backends\\sysmon\\sysmon.xml
 - Config hash:                   SHA256=6C5D3B0E4F1A
 - HashingAlgorithms:             SHA256
 - Network connection:            enabled

Rule configuration (version 4.50):
 - ProcessCreate                      onmatch: exclude   combine rules using 'Or'
 - ProcessTerminate                   onmatch: exclude   combine rules using 'Or'
 - NetworkConnect                     onmatch: exclude   combine rules using 'Or'
"""


def test_sysmon_dump_gives_version_config_hash_and_rules():
    got = sysmon.parse_dump(DUMP)
    assert got["version"] == "15.15"
    assert got["config_hash"] == "SHA256=6C5D3B0E4F1A"
    assert got["rules"] == {"ProcessCreate": "exclude", "ProcessTerminate": "exclude",
                            "NetworkConnect": "exclude"}
    assert sysmon.parse_dump("garbage") == {"version": None, "config_hash": None, "rules": {}}


def test_our_sysmon_config_enables_what_the_backend_reads():
    import xml.etree.ElementTree as ET

    from bench.backends.sysmon import parse

    root = ET.parse(sysmon.CONFIG).getroot()
    filtering = root.find("EventFiltering")
    rules = {e.tag: e.get("onmatch") for e in filtering}
    for needed in parse.NEEDED_RULES:
        assert rules.get(needed) == "exclude", needed   # exclude nothing: every event


# Both readers run here: the thread one is Windows's, and nothing in it is Windows-only.
@pytest.mark.parametrize("reader", [pipes._ThreadReader, pipes._SelectReader]
                         if sys.platform != "win32" else [pipes._ThreadReader])
def test_pipe_reader_times_out_reads_and_sees_end_of_file(reader):
    p = subprocess.Popen([sys.executable, "-c",
                          "import sys, time; time.sleep(0.3); sys.stdout.write('hi\\n')"],
                         stdout=subprocess.PIPE)
    r = reader(p.stdout.fileno())
    assert r.read(0.05) is None                  # nothing yet: a timeout, not an error
    got = b""
    while True:
        chunk = r.read(5.0)
        assert chunk is not None, "the child's output did not arrive"
        if not chunk:
            break
        got += chunk
    assert got == b"hi\n"
    assert r.read(0.05) == b""                   # end of file stays end of file
    r.close()
    p.wait()


def test_sensor_host_answers_on_stdin_lines_where_pipes_cannot_be_selected(monkeypatch,
                                                                            capsys):
    import io

    from bench.core import osapi
    from bench.harness import sensorhost

    monkeypatch.setattr(osapi, "IS_WINDOWS", True)      # the loop Windows gets
    host = sensorhost.Host({"backend": "psutil", "settings": {},
                            "ctx": {"marker": "sbx", "workdir": "."}, "events": "unused"})
    assert host._wake_r is None
    host.sink.add(1, 0, "p", 1)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"count\n\ncount\nstop\nx\n")))
    assert host.serve() == "stop"
    answers = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert answers == [{"count": 1, "error": None}] * 2
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"count\n")))
    assert host.serve() == "eof"                        # the harness went away
