"""One scenario cell: a normal cell whose sensor meets a fault while the workload runs.

The workload runs its open-loop schedule from start to end whatever happens to the sensor.
``at_s`` after its first operation a fault thread injects the fault and plays the
supervisor (systemd's ``Restart=always``):

- ``crash``: SIGKILL the sensor (the tool's processes for a peer, the consumer for our own
  backends); once it is dead, note what it left in the kernel, wait ``restart_ms``, undo
  what a killed sensor of this backend leaves outside its fds (as a unit's ExecStartPre
  would) and start a new instance; the sensor is back when that one says it is ready.
- ``stall``: SIGSTOP the sensor, SIGCONT it ``for_s`` later.
- ``bad-update``: hand the running sensor a malformed content update through each update
  path it has (``update_case``: rules, program), first to a canary instance with ``canary``.
- ``tamper``: an adversary with root tries to blind the sensor with one ``technique``
  (``bench.scenario.tamper``).

Sensors forward the events in hand every ``forward_ms`` (``CellRunner.spool``): what a
killed consumer had forwarded is kept, what it still held is lost, as with a real sensor.
Every instance's events go into one correlation, so the rows of a scenario cell are the
same per-kind rows as any cell's, next to the scenario row and its timeline.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.analysis import timeline as tl
from bench.analysis.correlate import Correlation
from bench.core import events as evmod
from bench.core.errors import SensorFailed, WorkloadFailed
from bench.backends import _content
from bench.harness.cell import Attempt, Cell, CellRunner, Outcome
from bench.harness.sensorproc import SensorProcess, tail
from bench.scenario import faults, tamper
from bench.core.clock import now_ns


RESIDUE_AFTER_NS = 50_000_000
# A canary that reports no event for this long after an update fails its health check.
CANARY_S = 0.5


@dataclass
class Schedule:
    """A scenario's fault: which, when (s after the workload's first operation), how long
    (stall), and the supervisor's restart delay (crash)."""

    scenario: str
    at_s: float
    for_s: float = 0.0
    restart_ms: float = 0.0
    case: str = ""
    update_case: str = ""        # bad-update: "rules" or "program"
    canary: bool = False         # bad-update: a canary instance takes it first
    technique: str = ""          # tamper: one of bench.scenario.tamper.TECHNIQUES
    techniques: tuple[str, ...] = ()   # tamper: those to run (default: all)

    @property
    def label(self) -> str:
        return self.case or self.scenario


@dataclass
class _FaultLog:
    states: list[tuple[int, str]] = field(default_factory=list)
    t_fault: int | None = None
    t_back: int | None = None
    t_gone: int | None = None     # a killed sensor's processes are all gone
    target: str = ""
    residue: str = ""
    residue_read: bool = False
    update: str = ""             # bad-update: applied, refused, crashed
    update_detail: str = ""
    canary: str = ""
    action: str = ""             # tamper: what the technique did
    crashed: bool = False
    error: BaseException | None = None
    # events and stats of instances that ended during the cell (a peer's host, stopped
    # after its tool died): (events, stats) per instance, by index
    ended: dict[int, tuple[dict, dict]] = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)      # fault over
    release: threading.Event = field(default_factory=threading.Event)   # cell over


def timeline_frame(cell: Cell, case: str, cols: dict) -> pd.DataFrame:
    """A scenario cell's rows of ``timeline.parquet`` (its columns:
    ``bench.results.schema.TIMELINE_COLUMNS``) from ``analysis.timeline.timeline``."""
    frame = pd.DataFrame(cols)
    frame.insert(0, "case", case)
    frame.insert(0, "spec", cell.spec_text)
    frame.insert(0, "cell", cell.id)
    return frame


class ScenarioRunner(CellRunner):
    """Runs scenario cells: ``CellRunner`` with a spool and a fault thread."""

    spool = True

    def __init__(self, *args, schedule: Schedule, **kw):
        super().__init__(*args, **kw)
        self.schedule = schedule
        self.last_pids: list[int] = []   # every sensor process of the last cell

    def run(self, cell):
        self.last_pids = []
        self.moved = None   # move-dir: where the watched directory went
        # what the kernel holds before this cell's sensor: what it holds beyond that while
        # the sensor is down, or after the cell, is the sensor's
        self.before = faults.Residue()
        try:
            return super().run(cell)
        finally:
            tamper.remove(self.moved)

    def start_sensor(self, a: Attempt):
        sensor = super().start_sensor(a)
        self.last_pids.append(sensor.pid)
        return sensor

    # -- the fault ----------------------------------------------------------------------
    def _fault(self, a: Attempt, t_start: int, log: _FaultLog) -> None:
        s = self.schedule
        log.states.append((a.sensor.ready_ns, "ready"))
        time.sleep(max(0.0, (t_start + s.at_s * 1e9 - now_ns()) / 1e9))
        sensor = a.sensor
        log.target, pids = faults.targets(sensor.pid, a.ctx.sensor_cgroup)
        self.last_pids.extend(pids)
        if s.scenario == "stall":
            self._stall(pids, log)
        elif s.scenario == "crash":
            self._kill(a, sensor, pids, log)
        elif s.scenario == "bad-update":
            self._bad_update(a, sensor, log)
        elif s.scenario == "tamper":
            self._tamper(a, sensor, pids, log)

    def _tamper(self, a: Attempt, sensor, pids: list[int], log: _FaultLog) -> None:
        """One tampering technique; what it did goes into ``action``."""
        t = self.schedule.technique
        if t == "kill":
            log.action = f"SIGKILL to {log.target} pid(s) {pids}"
            self._kill(a, sensor, pids, log)
            return
        if t == "stop":
            log.action = f"SIGSTOP to {log.target} pid(s) {pids} for {self.schedule.for_s:g} s"
            self._stall(pids, log)
            return
        log.t_fault = now_ns()
        log.states.append((log.t_fault, "tampered"))
        if t == "bpf-detach":
            log.action = tamper.bpf_detach(set(pids) | {sensor.pid})
        elif t == "audit-delete":
            log.action = tamper.auditctl("-D")
        elif t == "audit-disable":
            log.action = tamper.auditctl("-e", "0")
        elif t == "move-dir":
            log.action, self.moved = tamper.move_dir(a.cell_dir)
            a.watched.append(self.janitor.watch("path", path=str(self.moved)))
        elif t == "flood":
            flood = tamper.start_flood(a.cell.workload.name, a.cell_dir, self.schedule.for_s,
                                       self.out / "logs" / f"{a.tag}-flood.log")
            self.last_pids.append(flood.pid)
            a.watched.append(self.janitor.watch("process", pid=flood.pid, group=True))
            log.action = tamper.flood_result(flood)
        # the window is the attack's own time (a flood's --for; an instant otherwise)
        log.t_back = now_ns()
        log.states.append((log.t_back, "ready"))

    def _kill(self, a: Attempt, sensor, pids: list[int], log: _FaultLog) -> None:
        log.t_fault = now_ns()
        faults.kill(pids)
        log.states.append((log.t_fault, "dead"))
        self._supervise(a, sensor, log)

    def _stall(self, pids: list[int], log: _FaultLog) -> None:
        log.t_fault = now_ns()
        faults.stop(pids)
        log.states.append((log.t_fault, "stopped"))
        try:
            time.sleep(self.schedule.for_s)
        finally:
            faults.cont(pids)
            log.t_back = now_ns()
            log.states.append((log.t_back, "ready"))

    def _bad_update(self, a: Attempt, sensor, log: _FaultLog) -> None:
        """Send the malformed update (to a canary first, with ``canary``); a sensor that
        dies of it is supervised like a crashed one."""
        case = self.schedule.update_case
        content = _content.MALFORMED if case == "rules" else ""
        if self.schedule.canary:
            log.canary = self._canary(a, case, content)
            if log.canary.startswith("halted"):
                return   # the rollout stops: the main sensor never gets the update
        log.t_fault = now_ns()
        log.states.append((log.t_fault, "updating"))
        try:
            reply = sensor.update(case, content)
        except SensorFailed:
            log.update, log.update_detail = "crashed", tail(sensor.log_path)
            log.states.append((now_ns(), "dead"))
            self._supervise(a, sensor, log)
            return
        log.update, log.update_detail = reply.get("update", "?"), reply.get("detail", "")
        # the fault's window is the update's own time: what follows is the sensor as updated
        log.t_back = now_ns()
        log.states.append((log.t_back, "ready"))

    def _canary(self, a: Attempt, case: str, content: str) -> str:
        """Safe deployment: a canary instance of the sensor takes the update first. It
        fails its health check if it dies of it or reports nothing for CANARY_S after."""
        canary = SensorProcess(            # one per cell: named after the cell
            a.cell.spec.name, a.cell.spec.settings, a.ctx,
            self.tmp / f"{a.token}-canary-events.npz",
            self.out / "logs" / f"{a.tag}-canary.log")
        self.last_pids.append(canary.pid)
        a.watched.append(self.janitor.watch("process", pid=canary.pid, group=True,
                                            sensor=True))
        try:
            canary.wait_ready()
            before = canary.count()
            try:
                reply = canary.update(case, content)
            except SensorFailed:
                return "halted: the canary crashed on the update"
            time.sleep(CANARY_S)
            try:
                after = canary.count()
            except SensorFailed:
                return "halted: the canary died after the update"
            if after <= before:
                return (f"halted: the canary reported nothing for {CANARY_S:g} s after "
                        "the update")
            return f"passed ({reply.get('update')}): the update went on to the sensor"
        finally:
            canary.kill()

    def _supervise(self, a: Attempt, sensor, log: _FaultLog) -> None:
        """The sensor died (killed, or of an update): note what stayed in the kernel, wait
        for it to be gone, restart it after ``restart_ms`` as systemd would."""
        log.crashed = True
        scg = a.ctx.sensor_cgroup
        # What stays in the kernel with nobody consuming: read 50 ms after the kill (a
        # process holding BPF links takes a while to exit, its programs still attached).
        peek = (log.t_fault or now_ns()) + RESIDUE_AFTER_NS
        while True:
            gone = (sensor.proc.poll() is not None if log.target == "consumer"
                    else not faults.tool_pids(scg))
            now = now_ns()
            if gone and log.t_gone is None:
                log.t_gone = now
            if not log.residue_read and (gone or now >= peek):
                log.residue, log.residue_read = self.before.now(), True
            if gone:
                break
            time.sleep(0.001)
        if log.target == "tool":
            # The unit's main process died: the rest of it (our adapter) is stopped too
            # before the restart, keeping what it had read from the tool.
            try:
                log.ended[len(a.sensors) - 1] = sensor.stop()
            except SensorFailed:
                pass
        time.sleep(self.schedule.restart_ms / 1000)
        log.states.append((now_ns(), "restarting"))
        self._recover(a, sensor)
        new = self.start_sensor(a)
        new.wait_ready()
        log.t_back = new.ready_ns
        log.states.append((log.t_back, "ready"))

    def _run_fault(self, a: Attempt, t_start: int, log: _FaultLog) -> None:
        try:
            self._fault(a, t_start, log)
        except BaseException as e:  # noqa: BLE001 - raised on the cell's thread
            log.error = e
        finally:
            log.done.set()
            # A sensor started here gets PR_SET_PDEATHSIG from this thread: the thread
            # must outlive it (until the cell has stopped it), or the kernel ends it.
            log.release.wait()

    # -- the cell -----------------------------------------------------------------------
    def _measure(self, a: Attempt) -> Outcome:
        log = _FaultLog()
        thread: list[threading.Thread] = []

        def on_mark(phase: str) -> None:
            if phase == "start" and not thread:
                t = threading.Thread(target=self._run_fault, name="fault",
                                     args=(a, now_ns(), log), daemon=True)
                t.start()
                thread.append(t)

        try:
            return self._measure_faulted(a, log, on_mark, thread)
        finally:
            log.release.set()
            if thread:
                thread[0].join()

    def _measure_faulted(self, a: Attempt, log: _FaultLog, on_mark, thread: list) -> Outcome:
        truth = self._run_workload(a, on_mark)
        t_workload_end = now_ns()
        if not thread:
            raise WorkloadFailed("the workload never said it started: no fault was injected")
        log.done.wait()
        if log.error is not None:
            if isinstance(log.error, SensorFailed):
                raise SensorFailed(f"after the {self.schedule.scenario}: {log.error}")
            raise log.error
        sensor = a.sensor
        _, drained = sensor.drain(a.cls.quiet_for(a.cell.spec.settings), self.drain_max_s)
        log.ended[len(a.sensors) - 1] = sensor.stop()
        # an instance that stopped handed its events over; a killed one, what it forwarded
        events = evmod.concat_events([log.ended[i][0] if i in log.ended
                                      else evmod.load_spool(inst.spool)
                                      for i, inst in enumerate(a.sensors)])
        # the last instance's stats, with the loss every stopped instance counted
        ended = [log.ended[i][1] for i in sorted(log.ended)]
        stats = dict(ended[-1], self_reported_lost=sum(
            st.get("self_reported_lost") or 0 for st in ended))
        outcome = self._summarize(a, truth, events, stats, float("nan"), drained)
        outcome.scenario, outcome.timeline = self._scenario(a, truth, events, outcome.corr,
                                                            log, t_workload_end, stats)
        return outcome

    def _scenario(self, a: Attempt, truth, events, corr: Correlation, log: _FaultLog,
                  t_workload_end: int, stats: dict) -> tuple[dict, pd.DataFrame]:
        """The scenario's row and timeline, from the correlation the cell's rows came from."""
        s, cell, cls = self.schedule, a.cell, a.cls
        t0 = int(truth.cols["t_intended"].min()) if len(truth) else t_workload_end
        t_end = max(t_workload_end, int(events["t_seen"].max()) if len(events["t_seen"]) else 0)
        t_fault = log.t_fault if log.t_fault is not None else t_end
        fault = tl.Fault(t_fault, log.t_back, log.states, log.crashed)
        row = {
            "scenario": s.scenario, "case": s.label, "cell": cell.id,
            "backend": cell.backend, "spec": cell.spec_text, "mode": cls.mode,
            "mechanism": cls.mechanism, "workload_spec": cell.workload.text,
            "rate_target": cell.rate, "duration_s": cell.duration, "at_s": s.at_s,
            "for_s": s.for_s if s.scenario == "stall" else np.nan,
            "restart_ms": s.restart_ms if s.scenario == "crash" else np.nan,
            "target": log.target, "crashed": log.crashed,
            "update": log.update, "update_detail": log.update_detail, "canary": log.canary,
            "technique": s.technique, "action": log.action,
            "kernel_while_down": log.residue,
            "self_reported_lost": stats.get("self_reported_lost"),
            "fault_at_ms": (t_fault - t0) / 1e6,
            "back_at_ms": (log.t_back - t0) / 1e6 if log.t_back is not None else np.nan,
            "exit_ms": (log.t_gone - t_fault) / 1e6 if log.t_gone is not None else np.nan,
            "status": "ok", "reason": "",
        }
        if s.scenario == "tamper":
            seen = [str(x) for x in stats.get("tamper_events") or []]
            lost = stats.get("self_reported_lost") or 0
            row.update(recorded=bool(seen),
                       detected=bool(seen) or (s.technique == "flood" and lost > 0),
                       tamper_seen="; ".join(seen) or (
                           f"its loss counter: {lost}" if s.technique == "flood" and lost
                           else ""))
        row.update(tl.summarize(truth.cols, events, corr, cls.kinds, fault, t_end))
        row["outcome"] = tl.outcome(row, s.scenario)
        cols = tl.timeline(truth.cols, events, corr, cls.kinds, fault, t0, t_end)
        return row, timeline_frame(cell, s.label, cols)
