"""The ETW consumer between pywintrace and the sink, run here on the recorded events: the
callback only stamps and appends, the handoff maps them, converts QPC stamps to the
perf_counter clock and adds one batch; loss comes from the session's counters, EventsLost
as events and RealTimeBuffersLost kept apart (a buffer is many events). pywintrace's
session itself is Windows only and is not run here."""

from __future__ import annotations

import json
import threading
from collections import deque
from pathlib import Path

import numpy as np
import pytest

from bench.backends._etw import events as ev
from bench.backends.base import SensorContext
from bench.backends.etw import EtwBackend, parse
from bench.backends.sysmon import SysmonBackend
from bench.backends.sysmon import parse as sysmon_parse
from bench.core.events import EventSink, NO_TIME
from bench.core.kinds import Kind

pytestmark = pytest.mark.windows   # pure: runs on Windows too

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "etw"
FREQ = 10_000_000            # QPC's usual 10 MHz


def consumer(cls, fx_name, mapper):
    fx = json.loads((FIXTURES / fx_name).read_text())
    b = cls({k: s.default for k, s in cls.settings.items()},
            SensorContext(marker=fx["context"]["marker"], workdir="C:\\w"))
    # what start() sets before the session runs
    b.sink, b.freq, b.map = EventSink(), FREQ, mapper(fx)
    b._pending = deque()
    return b, fx


def test_events_reach_the_sink_in_one_batch_on_the_perf_counter_clock():
    b, fx = consumer(EtwBackend, "kernel_file.json",
                     lambda fx: parse.EtwMapper(fx["context"]["marker"],
                                                fx["context"]["device_map"]))
    for item in fx["events"]:
        b._on_event((item["event_id"], item["ev"]))       # pywintrace's call
    assert len(b._pending) == len(fx["events"]) and len(b.sink) == 0   # nothing mapped yet
    b._take()
    cols = b.sink.columns()
    want = [tuple(i["expect"]) for i in fx["events"] if i["expect"] is not None]
    assert len(cols["kind"]) == len(want) and not b._pending
    for row, (kind, key, path, pid, ticks) in zip(
            zip(cols["kind"], cols["key"], cols["path"], cols["pid"], cols["t_kernel"]), want):
        assert row[:4] == (kind, key, path, pid)
        assert row[4] == ticks * 10**9 // FREQ == ev.qpc_to_ns(ticks, FREQ)
    # t_seen stamped per event by the callback, on our clock, never before the take
    assert (cols["t_seen"] > 0).all() and np.all(np.diff(cols["t_seen"]) >= 0)
    b._take()                                              # nothing new: no empty batch
    assert len(b.sink) == len(want)


def test_sysmon_events_reach_the_sink_with_their_header_stamp():
    b, fx = consumer(SysmonBackend, "sysmon.json",
                     lambda fx: sysmon_parse.SysmonMapper(fx["context"]["marker"],
                                                          fx["context"].get("device_map")))
    for item in fx["events"]:
        b._on_event((item["event_id"], item["ev"]))
    b._take()
    cols = b.sink.columns()
    kinds = {Kind(k) for k in cols["kind"]}
    assert {Kind.proc_exec, Kind.proc_exit, Kind.file_create, Kind.net_connect} <= kinds
    assert (cols["t_kernel"] != NO_TIME).all()


class _Props:
    """EVENT_TRACE_PROPERTIES as ctypes shows it: counters as attributes."""

    def __init__(self, **kw):
        for k in ("EventsLost", "RealTimeBuffersLost", "LogBuffersLost", "BuffersWritten",
                  "NumberOfBuffers", "FreeBuffers"):
            setattr(self, k, kw.get(k, 0))


class _Job:
    """pywintrace's ETW object after a session: query() before its stop, and the
    properties ControlTrace(STOP) filled in."""

    def __init__(self, queried, final):
        self._queried, self.stopped = queried, False
        self.properties = type("P", (), {"get": lambda s: type("C", (), {"contents": final})()})()

    def query(self):
        assert not self.stopped, "query after the session stopped reads zeros"
        return self._queried

    def stop(self):
        self.stopped = True


def stopped(queried, final):
    b, _ = consumer(EtwBackend, "kernel_file.json",
                    lambda fx: parse.EtwMapper(fx["context"]["marker"],
                                               fx["context"]["device_map"]))
    b.job, b._stop = _Job(queried, final), threading.Event()
    b._handoff = threading.Thread(target=lambda: None)
    b._handoff.start()
    b.stop()
    return b.stats()


def test_loss_is_events_lost_with_lost_buffers_kept_apart():
    st = stopped(_Props(EventsLost=3, RealTimeBuffersLost=1, NumberOfBuffers=64),
                 _Props(EventsLost=7, RealTimeBuffersLost=2, NumberOfBuffers=64))
    assert st["self_reported_lost"] == 7          # the stop's final count, in events
    assert st["etw_loss"]["buffers_lost"] == 2 and st["etw_loss"]["events_lost"] == 7


def test_a_failed_final_read_does_not_hide_what_the_query_saw():
    # ControlTrace(STOP) can leave the counters zero (its status is not checked)
    st = stopped(_Props(EventsLost=5, NumberOfBuffers=64), _Props())
    assert st["self_reported_lost"] == 5


def test_no_loss_is_zero_not_unknown():
    st = stopped(_Props(NumberOfBuffers=64), _Props(NumberOfBuffers=64))
    assert st["self_reported_lost"] == 0


def test_an_event_arriving_during_a_take_is_delivered_once():
    b, fx = consumer(EtwBackend, "kernel_process.json",
                     lambda fx: parse.EtwMapper(fx["context"]["marker"],
                                                fx["context"]["device_map"]))
    item = next(i for i in fx["events"] if i["expect"] is not None)
    inner, calls = b.map, []

    class Arriving:   # pywintrace's thread delivers one more event while the take runs
        parse_errors = 0

        def map(self, event_id, event):
            if not calls:
                b._on_event((item["event_id"], item["ev"]))
            calls.append(event_id)
            return inner.map(event_id, event)

    b.map = Arriving()
    b._on_event((item["event_id"], item["ev"]))
    b._take()
    assert len(b.sink) == 1 and len(b._pending) == 1     # the newcomer waits its turn
    b._take()
    assert len(b.sink) == 2 and not b._pending and len(calls) == 2
