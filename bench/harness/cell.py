"""Run one cell: start the sensor, run the workload, drain, stop, correlate, measure.

A cell is backend spec x workload x rate x repetition (or a no-sensor baseline). Whatever
happens, the cell leaves nothing behind: sensor and workload processes, the workload's
cgroup and directory are undone in ``finally``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench import backends
from bench.backends.base import Backend, SensorContext

from bench.core import ledger as truthmod, native_ledger
from bench.harness.accounting import (IDLE_S, IDLE_WINDOWS, CellCpu, SensorMeter,
                                      columns as cost_columns)
from bench.harness.container import CellGroup, current as current_cgroup
from bench.analysis.blocks import cell_mean
from bench.analysis.correlate import Correlation, correlate
from bench.core.cpu import MachineCpu, tree_rss_mb
from bench.core.errors import SensorFailed, WorkloadFailed
from bench.harness.janitor import Janitor
from bench.core.kinds import Kind
from bench.analysis.bursts import burst_metrics
from bench.analysis.counted import cell_mask, rows as counted_rows
from bench.analysis.metrics import matched_latencies, op_times, per_kind, schedule_lag_growth_ms
from bench.harness.pipes import PipeReader
from bench.harness.sensorproc import SensorProcess, tail
from bench.harness.spec import unavailable
from bench.harness.workdir import fs_type
from bench.core.settings import BASELINE, Spec
from workloads import get_workload
from workloads.pacing import Burst, parse_arrivals

NAN = float("nan")
RECIPE_TIMEOUT_S = 900   # an application recipe that runs longer has hung


@dataclass
class Cell:
    index: int
    repeat: int
    workload: Spec
    rate: str                 # "2000" or "max"
    duration: float
    spec: Spec | None         # None: the no-sensor baseline
    arrivals: str = "poisson"
    # A baseline's sensors: each forms a block with it (a baseline between two sensor cells
    # serves both). A sensor cell's baseline: the id of the cell it is paired with.
    pairs: tuple[Spec, ...] = ()
    baseline_id: str = ""
    scenario: str = ""        # a failure scenario's fault ("crash", ...), "" for a normal cell

    @property
    def backend(self) -> str:
        return self.spec.name if self.spec else BASELINE

    @property
    def spec_text(self) -> str:
        return self.spec.text if self.spec else BASELINE

    @property
    def block(self) -> str:
        """A sensor cell's block: its spec x workload x rate x repetition, '' when it has no
        baseline of its own. (A baseline cell belongs to the blocks of its sensors.)"""
        if self.spec is None or not self.baseline_id:
            return ""
        return f"{self.spec.text}|{self.workload.text}|{self.rate}|{self.repeat}"

    @property
    def id(self) -> str:
        tag = (f"baseline~{'+'.join(p.text for p in self.pairs)}"
               if self.spec is None and self.pairs else self.spec_text)
        if self.scenario:
            tag = f"{self.scenario}~{tag}"
        return f"{tag}|{self.workload.text}|{self.rate}|{self.repeat}"


@dataclass
class Outcome:
    rows: list[dict]
    events: pd.DataFrame | None = None
    op_times: np.ndarray | None = None
    stats: dict = field(default_factory=dict)
    scenario: dict | None = None            # a failure scenario's row (bench.scenario)
    timeline: pd.DataFrame | None = None    # and its timeline
    corr: Correlation | None = None          # the events joined to the truth (sensor cells)


def _converse(proc: subprocess.Popen, request: bytes, timeout: float, on_line) -> bytes:
    """Send the workload its settings, then read its output to the end, calling
    ``on_line`` with each line as it comes; returns all of it. TimeoutExpired past
    ``timeout`` s."""
    proc.stdin.write(request)
    proc.stdin.close()
    deadline = time.monotonic() + timeout
    reader = PipeReader(proc.stdout.fileno())
    out = b""
    seen = 0
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(proc.args, timeout)
            chunk = reader.read(left)
            if chunk is None:
                continue
            if not chunk:
                break
            out += chunk
            while b"\n" in out[seen:]:
                end = out.index(b"\n", seen)
                on_line(out[seen:end].decode(errors="replace").strip())
                seen = end + 1
    finally:
        reader.close()
    proc.stdout.close()
    proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    return out


def _base_row(cell: Cell, cls: type[Backend] | None) -> dict:
    return {
        "cell": cell.id, "backend": cell.backend, "spec": cell.spec_text,
        "mode": cls.mode if cls else "none", "mechanism": cls.mechanism if cls else "none",
        "workload": cell.workload.name, "workload_spec": cell.workload.text,
        "rate_target": cell.rate, "repeat": cell.repeat, "duration_s": cell.duration,
        "block": cell.block, "baseline_cell": cell.baseline_id,
        "arrivals": cell.arrivals if cell.rate != "max" else "closed-loop",
        "scenario": cell.scenario,
        "workload_engine": get_workload(cell.workload.name).engine(cell.workload.settings),
        "workload_threads": cell.workload.settings.get("threads", 1),
    }


def latency_frame(cell: Cell, cls: type[Backend], lat: dict[str, np.ndarray]) -> pd.DataFrame:
    """The cell's rows of ``events.parquet`` (its columns: ``bench.results.schema.EVENT_COLUMNS``)
    from its matched latencies (``matched_latencies``). An untimed match (a partial key's
    event that may precede its operation) has no latency, so it is not there."""
    lat = {c: v[lat["timed"]] for c, v in lat.items()}
    return pd.DataFrame({
        "cell": cell.id, "backend": cell.backend, "spec": cell.spec_text,
        "mode": cls.mode, "workload": cell.workload.name,
        "workload_spec": cell.workload.text, "rate_target": cell.rate,
        "repeat": cell.repeat,
        "kind": pd.Categorical.from_codes(lat["kind"] - 1, [k.name for k in Kind]),
        "op": lat["op"], "latency_ns": lat["latency_ns"],
        "latency_intended_ns": lat["latency_intended_ns"],
        "delivery_ns": lat["delivery_ns"],
    })


def _workload_cpu_pct(acct: CellCpu) -> float:
    """The workload cgroup's CPU over its run, as % of one core."""
    return 100 * acct.workload_us / 1e6 / acct.run_s if acct.run_s else NAN


def _sensor_columns(stats: dict, rss: float, drained: bool) -> dict:
    """What a sensor cell records of the sensor itself, whatever its truth."""
    return {"kernel_ns_per_event": stats.get("kernel_ns_per_event", NAN),
            # CPU of kernel-side helpers that are not in the sensor's process tree (kauditd)
            "helper_cpu_s": stats.get("helper_cpu_s", NAN),
            "parse_errors": stats.get("parse_errors", 0),
            "self_reported_lost": stats.get("self_reported_lost"),
            "sensor_rss_mb": rss, "drained": drained}


def _kind_rows(common: dict, kinds: list[dict], stats: dict, drained: bool) -> list[dict]:
    """A sensor cell's rows: ``common`` with each kind's own columns, and the gap
    between what the truth says was missed and what the backend says it lost (a
    positive gap is loss its own counter did not see: counters have been wrong)."""
    missed = sum(int(k["expected"]) - int(k["matched"]) for k in kinds
                 if k.get("status") == "ok")
    lost = stats.get("self_reported_lost")
    common = dict(common, counter_gap=missed - int(lost) if lost is not None else NAN)
    rows = []
    for k in kinds:
        r = dict(common, **k)
        if not drained and r["status"] == "ok":
            r["reason"] = "sensor still delivering when the drain limit ran out"
        rows.append(r)
    return rows


def status_rows(cell: Cell, cls: type[Backend] | None, status: str,
                reason: str) -> list[dict]:
    """Rows for a cell that produced no measurement (skipped / failed / unsupported);
    ``cls`` is the cell's backend (None for a baseline)."""
    kinds = sorted(get_workload(cell.workload.name).kinds)
    supported = cls.kinds if cls else frozenset()
    # A kind the backend cannot see stays "unsupported" whatever became of the cell, except
    # for a backend that sees no kind at all (the controls): there every row would read
    # "unsupported" and hide that the cell failed.
    hide_ok = cls is not None and not cls.runs_without_kinds
    rows = []
    for k in kinds:
        row = _base_row(cell, cls)
        st = "unsupported" if status != "skipped" and k not in supported and hide_ok else status
        row.update(kind=Kind(k).name, status=st,
                   reason="backend does not report this kind" if st == "unsupported" else reason)
        rows.append(row)
    return rows


@dataclass
class Attempt:
    """One run of a cell: its backend (resolved once), the names and the kernel objects it
    set up, the sensor it started and the CPU it read. Everything here is undone by
    ``CellRunner.run`` whatever happens."""

    cell: Cell
    cls: type[Backend] | None     # None: the no-sensor baseline
    marker: str                   # carried by every path and argv of the cell
    token: str                    # names the harness's own files (never the marker)
    cell_dir: Path
    cg: CellGroup                # the workload's cgroup
    scg: CellGroup | None        # the sensor's cgroup
    tag: str                      # prefix of the cell's log files
    tap: tuple[socket.socket, socket.socket] | None = None
    ctx: SensorContext | None = None
    sensor: SensorProcess | None = None   # the sensor instance collecting now
    # every instance started (a failure scenario restarts the sensor): each is undone
    sensors: list[SensorProcess] = field(default_factory=list)
    watched: list[str] = field(default_factory=list)   # janitor handles, forgotten at the end
    acct: CellCpu = field(default_factory=CellCpu)

    def rows(self, status: str, reason: str) -> Outcome:
        return Outcome(status_rows(self.cell, self.cls, status, reason))


class _NoJanitor:
    """Cells run without a janitor (tests driving CellRunner directly)."""

    def watch(self, what: str, **item) -> str:
        return ""

    def forget(self, handle: str | None) -> None:
        pass


class CellRunner:
    """Runs cells with shared settings: where to write logs and workload files."""

    # Sensors forward the events in hand to a spool while they run (failure scenarios:
    # what a killed sensor had forwarded survives it); every ``forward_ms``.
    spool = False
    forward_ms = 5.0
    # Count the workload cgroup's operations in the kernel beside the ledger
    # (bench.harness.counter): the truth of a workload that keeps no ledger, and a check
    # on one that does. Off by default: its programs run on every system call of the
    # machine.
    count = False

    def __init__(self, out: Path, workdir: Path, drain_max_s: float = 10.0,
                 janitor: Janitor | None = None, idle_s: float = IDLE_S,
                 idle_windows: int = IDLE_WINDOWS):
        self.out = out
        self.workdir = workdir
        self.drain_max_s = drain_max_s
        # how long a sensor's idle cost is read after its drain, in how many sub-windows
        self.idle_s, self.idle_windows = idle_s, idle_windows
        self.janitor = janitor or _NoJanitor()
        self.workdir_fs = fs_type(workdir)   # recorded with every measured cell
        (out / "logs").mkdir(parents=True, exist_ok=True)
        self.tmp = out / ".parts" / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def run(self, cell: Cell) -> Outcome:
        cls = backends.get(cell.spec.name) if cell.spec is not None else None
        why = unavailable(cell.workload.name, cell.workload.settings)
        if why:   # the native engine not built here, a recipe's program or its count
            return Outcome(status_rows(cell, cls, "skipped", why))
        if cls is not None:
            reason = backends.availability(cell.spec.name)
            if reason:
                return Outcome(status_rows(cell, cls, "skipped", reason))
            if not (get_workload(cell.workload.name).kinds & cls.kinds) \
                    and not cls.runs_without_kinds:
                return Outcome(status_rows(cell, cls, "unsupported", ""))
        marker = "sb" + secrets.token_hex(4)
        # The harness's own files must not carry the marker: a sensor watching the machine
        # would report them as our activity that matches no operation.
        token = f"cell{cell.index:04d}-{secrets.token_hex(3)}"
        a = Attempt(cell, cls, marker, token, self.workdir / marker, CellGroup(token),
                     # the sensor's own cgroup: its CPU to the µs, a tool's apart from ours
                     CellGroup(token + "-sensor") if cls is not None else None,
                     f"{cell.index:04d}-{cell.backend}-{cell.workload.name}")
        a.cell_dir.mkdir(parents=True)
        jan = self.janitor
        watched = a.watched
        watched.append(jan.watch("path", path=str(a.cell_dir)))
        if a.cg.path:
            watched.append(jan.watch("cgroup", path=str(a.cg.path)))
        if a.scg is not None and a.scg.path:
            watched.append(jan.watch("cgroup", path=str(a.scg.path), sensor=True))
        try:
            if get_workload(cell.workload.name).recipe:
                self._prepare(a)   # before the sensor: its inputs are no one's events
            if cls is not None and cls.needs_tap:
                a.tap = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
                for s in a.tap:
                    s.set_inheritable(True)
            if cls is not None:
                a.ctx = SensorContext(
                    marker=marker, workdir=str(a.cell_dir),
                    cgroup=str(a.cg.path) if a.cg.path else None,
                    tap_fd=a.tap[1].fileno() if a.tap else -1,
                    results_dir=str(self.out / "logs"),
                    sensor_cgroup=str(a.scg.path) if a.scg is not None and a.scg.path else None)
                self.start_sensor(a)
                a.sensor.wait_ready()
                if a.tap:
                    a.tap[1].close()
            return self._measure(a)
        except (SensorFailed, WorkloadFailed) as e:
            return a.rows("failed", str(e))
        finally:
            for sensor in a.sensors:
                sensor.kill()
                if sensor.died_uncleanly:
                    self._recover(a, sensor)
            if a.tap:
                for s in a.tap:
                    s.close()
            a.cg.remove()
            if a.scg is not None:
                a.scg.remove()
            shutil.rmtree(a.cell_dir, ignore_errors=True)
            for f in self.tmp.glob(f"{token}-*"):
                f.unlink(missing_ok=True)
            for h in watched:
                jan.forget(h)

    def start_sensor(self, a: Attempt) -> SensorProcess:
        """Start an instance of the cell's sensor (not waiting for it to be ready); it
        becomes ``a.sensor``. The first is the cell's; a failure scenario starts more."""
        n = len(a.sensors)
        name = f"{a.token}-{n}" if n else a.token
        log = f"{a.tag}-sensor{f'-{n}' if n else ''}.log"
        sensor = SensorProcess(a.cell.spec.name, a.cell.spec.settings, a.ctx,
                               self.tmp / f"{name}-events.npz", self.out / "logs" / log,
                               pass_fds=(a.tap[1].fileno(),) if a.tap else (),
                               spool=self.tmp / f"{name}-spool" if self.spool else None,
                               forward_ms=self.forward_ms)
        a.sensors.append(sensor)
        a.sensor = sensor
        a.watched.append(self.janitor.watch("process", pid=sensor.pid, group=True,
                                            sensor=True))
        return sensor

    @staticmethod
    def _recover(a: Attempt, sensor: SensorProcess) -> None:
        """Undo what a sensor that died uncleanly left outside its fds (audit rules). A
        failure here must not take the run down with a traceback: it goes into the cell's
        sensor log, and the backend's next availability check tries again."""
        try:
            done = a.cls.recover_stale()
        except Exception as e:  # noqa: BLE001 - any failure is reported, not raised
            done = f"could not undo what the sensor left: {type(e).__name__}: {e}"
        if done:
            with open(sensor.log_path, "a") as f:
                f.write(f"harness: {done}\n")

    @contextmanager
    def _owned(self, proc: subprocess.Popen):
        """A process of the cell's, watched by the janitor while it runs; killed (and
        reaped) when what waits for it fails or is interrupted."""
        handle = self.janitor.watch("process", pid=proc.pid)
        try:
            yield proc
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            self.janitor.forget(handle)

    def _prepare(self, a: Attempt) -> None:
        """An application recipe's inputs, made in the cell's directory by a process of
        their own (``python -m workloads NAME --prepare``) in the cell's cgroup, before
        the sensor starts and the count begins; WorkloadFailed if it fails."""
        w = a.cell.workload
        log = self.out / "logs" / f"{a.tag}-workload.log"
        argv = [sys.executable, "-m", "workloads", w.name, "--prepare",
                "--workdir", str(a.cell_dir), "--settings", json.dumps(w.settings),
                "--seed", str(a.cell.repeat)]
        if a.cg.path:   # in the cell's cgroup, so that the cell's end ends what it started
            argv += ["--cgroup", str(a.cg.path)]
        with open(log, "ab") as errf:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=errf, stderr=errf)
            with self._owned(proc):
                proc.wait(timeout=RECIPE_TIMEOUT_S)
        if proc.returncode != 0:
            detail = tail(log)
            raise WorkloadFailed(f"preparing {w.text} failed (exit {proc.returncode})"
                                 + (f": {detail}" if detail else ""))

    def _run_workload(self, a: Attempt, on_mark=None) -> truthmod.Truth:
        """Run the workload to its end; ``on_mark('start'|'done')`` is called when its
        schedule starts and when its last operation is done."""
        ledger_path = self.tmp / f"{a.token}-ledger.bin"
        # the native engine writes its rows into a memfd of ours, mapped when it is done
        w = a.cell.workload
        ledger_fd = native_ledger.create() \
            if get_workload(w.name).engine(w.settings) == "native" else None
        recipe = get_workload(w.name).recipe   # its truth is the counted one: always on
        counter = self._counter(a) if self.count or recipe else None
        try:
            truth = self._launch(a, ledger_path, ledger_fd, on_mark)
            if counter is not None:
                truth.meta["counted"] = counter.read()
            return truth
        finally:
            if counter is not None:
                counter.close()
            if ledger_fd is not None:
                os.close(ledger_fd)

    def _counter(self, a: Attempt):
        """The counted truth for the cell's cgroup, attached (WorkloadFailed when it
        cannot run: a cell asked to count cannot go on without its truth)."""
        from bench.backends.ebpf.loader import cgroup_id
        from bench.harness import counter as countmod

        why = countmod.missing()
        cgid = cgroup_id(str(a.cg.path) if a.cg.path else None)
        if why or cgid is None:
            raise WorkloadFailed(f"the counted truth cannot run: {why or 'no cgroup v2'}")
        c = countmod.Counter(cgid)
        try:
            c.attach()
        except BaseException:
            c.close()
            raise
        return c

    def _launch(self, a: Attempt, ledger_path: Path, ledger_fd: int | None,
                on_mark) -> truthmod.Truth:
        cell, cg, tap, acct, tag = a.cell, a.cg, a.tap, a.acct, a.tag
        log = self.out / "logs" / f"{tag}-workload.log"
        cfg = {"name": cell.workload.name, "settings": cell.workload.settings, "rate": cell.rate, "duration": cell.duration,
               "marker": a.marker, "workdir": str(a.cell_dir), "ledger": str(ledger_path),
               # Same seed for every backend in a repetition: all see the same arrivals.
               "arrivals": cell.arrivals, "seed": cell.repeat}
        if cg.path:
            cfg["cgroup"] = str(cg.path)
            home = current_cgroup()
            if home is not None:
                cfg["home_cgroup"] = str(home)
        fds: tuple[int, ...] = ()
        if tap:
            cfg["tap_fd"] = tap[0].fileno()
            fds = (tap[0].fileno(),)
        if ledger_fd is not None:
            cfg["ledger_fd"] = ledger_fd
            fds += (ledger_fd,)
        machine = MachineCpu()
        marks: dict[str, tuple] = {}

        def mark(line: str) -> None:
            # The workload says when its schedule starts and when its last operation is
            # done: cost is read over exactly that stretch, not over its start-up.
            if line in ("start", "done") and line not in marks:
                marks[line] = (machine.snapshot(), cg.cpu_usage_us(),
                               on_mark(line) if on_mark else None)

        with open(log, "ab") as errf:
            proc = subprocess.Popen([sys.executable, "-m", "workloads", "-"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errf,
                                    pass_fds=fds)
            # a recipe runs as long as its program takes, not the cell's duration
            limit = RECIPE_TIMEOUT_S if get_workload(cell.workload.name).recipe \
                else cell.duration * 5 + 60
            with self._owned(proc):
                try:
                    out = _converse(proc, json.dumps(cfg).encode(), limit, mark)
                except subprocess.TimeoutExpired:
                    raise WorkloadFailed(f"workload {cell.workload.text} did not finish "
                                         "in time") from None
        if tap:
            tap[0].close()  # the sensor sees end of stream once the workload is done
        if proc.returncode != 0 or (ledger_fd is None and not ledger_path.exists()):
            how = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
                   else f"exited with {proc.returncode}")
            detail = tail(log)
            raise WorkloadFailed(f"workload {cell.workload.text} {how}"
                                 + (f": {detail}" if detail else ""))
        if "start" in marks and "done" in marks:
            (m0, cpu0, _), (m1, cpu1, _) = marks["start"], marks["done"]
            acct.machine, acct.machine_source = MachineCpu.delta(m0, m1), machine.source
            acct.run_s = (m1.wall_ns - m0.wall_ns) / 1e9
            if cpu0 is not None and cpu1 is not None:
                acct.workload_us = float(cpu1 - cpu0)
        summary = json.loads(out.decode().strip().splitlines()[-1])
        truth = (native_ledger.load(ledger_fd, summary) if ledger_fd is not None
                 else truthmod.load(ledger_path))
        truth.meta.update({k: v for k, v in summary.items() if k != "ledger"})
        return truth

    def _measure(self, a: Attempt) -> Outcome:
        acct, sensor = a.acct, a.sensor
        meter = SensorMeter(sensor.pid, a.ctx.sensor_cgroup) if sensor else None

        def on_mark(phase: str) -> None:
            if meter is not None:
                setattr(acct, "start" if phase == "start" else "run_end", meter.read())

        if meter:
            acct.source, acct.resolution_s = meter.source, meter.resolution_s
        truth = self._run_workload(a, on_mark)
        stats: dict = {}
        events = None
        drained = True
        rss = NAN
        if sensor is not None:
            _, drained = sensor.drain(a.cls.quiet_for(a.cell.spec.settings), self.drain_max_s)
            acct.end = meter.read()
            # The sensor's fixed cost: a stretch with nothing to do and nobody asking,
            # read in sub-windows so that its rate comes with its noise.
            for _ in range(self.idle_windows):
                time.sleep(self.idle_s / self.idle_windows)
                acct.idle.append(meter.read())
            rss = tree_rss_mb(sensor.pid)
            events, stats = sensor.stop()
        return self._summarize(a, truth, events, stats, rss, drained)

    def _summarize(self, a: Attempt, truth, events, stats, rss, drained) -> Outcome:
        cell, cls, marker, acct = a.cell, a.cls, a.marker, a.acct
        m = truth.meta
        if m.get("recipe"):
            return self._summarize_recipe(a, truth, events, stats, rss, drained)
        closed = cell.rate == "max"
        times = op_times(truth.cols, closed)
        common = _base_row(cell, cls)
        common.update(
            # what the paired-block estimates are made of (computed when the results are
            # read, bench.results.estimates)
            op_time_ns=cell_mean(times),
            rate_achieved=m.get("rate_achieved", NAN), ops=m.get("ops", 0),
            workload_errors=m.get("errors", 0),
            workload_cpu_pct=_workload_cpu_pct(acct),
            cgroup=bool(m.get("cgroup")), marker=marker, workdir_fs=self.workdir_fs,
            schedule_lag_growth_ms=schedule_lag_growth_ms(truth.cols, closed),
        )
        if events is None:  # baseline: no sensor, ground truth only
            common.update(cost_columns(acct, int(m.get("ops", 0)), None))
            rows = []
            for k in sorted(set(int(x) for x in np.unique(truth.cols["kind"]))):
                r = dict(common, kind=Kind(k).name, status="ok", reason="",
                         expected=int((truth.cols["kind"] == k).sum()))
                rows.append(r)
            return Outcome(rows, None, times, {})
        # A partial key may include the pid, which the ledger has no column for: every
        # file and network operation is a syscall of the workload process itself (python
        # -m workloads runs them in its main thread), whose pid its summary carries.
        corr = correlate(truth.cols, events, marker, cls.partial_keys, m.get("pid"))
        lat = matched_latencies(truth.cols, events, corr)
        kinds = per_kind(truth.cols, events, corr, cls.kinds, lat)
        n_matched = len(corr.event_idx)
        expected_kinds = np.unique(truth.cols["kind"])
        other = ~np.isin(events["kind"], expected_kinds)
        common.update(
            # reports of kinds this workload never produces, carrying our marker: false
            # reports, counted here since no per-kind row exists for them
            unmatched_other_kinds=int((corr.unmatched_marked & other).sum()),
            events_total=len(events["kind"]),
            **cost_columns(acct, int(m.get("ops", 0)), n_matched),
            **_sensor_columns(stats, rss, drained),
        )
        shape = parse_arrivals(cell.arrivals) if not closed else None
        if isinstance(shape, Burst):
            common.update(burst_metrics(truth.cols, events, corr, cls.kinds,
                                        shape.windows_ns(cell.duration)))
        return Outcome(_kind_rows(common, kinds, stats, drained),
                       latency_frame(cell, cls, lat), times, stats, corr=corr)

    def _summarize_recipe(self, a: Attempt, truth, events, stats, rss, drained) -> Outcome:
        """An application recipe's rows: its kinds as the counter counted them, the
        sensor's events of the cell matched to them by process and directory
        (``analysis.counted``), and the recipe's wall time as its one operation's time,
        so that the paired blocks give its slowdown."""
        cell, cls, acct = a.cell, a.cls, a.acct
        m = truth.meta
        counted = m["counted"]
        wall = np.array([m["wall_ns"]], dtype=np.int64)
        common = _base_row(cell, cls)
        common.update(
            op_time_ns=float(m["wall_ns"]), rate_achieved=m.get("rate_achieved", NAN),
            ops=1, workload_errors=0,
            workload_cpu_pct=_workload_cpu_pct(acct),
            cgroup=bool(m.get("cgroup")), marker=a.marker, workdir_fs=self.workdir_fs,
            schedule_lag_growth_ms=NAN, counted_unpaired=counted["unpaired"],
            counted_pids=len(counted["pids"]), counted_pids_full=counted["pids_full"])
        declared = get_workload(cell.workload.name).kinds
        if events is None:
            common.update(cost_columns(acct, 1, None))
            return Outcome([dict(common, **r) for r in
                            counted_rows(counted["counts"], declared, None, None,
                                         frozenset())], None, wall, {})
        # The workload process itself exec'ed before it joined the cgroup and exits after
        # it left: its own exec and exit are not the recipe's (its forks are).
        mask = cell_mask(events, counted["pids"], a.marker, m.get("pid"))
        n_matched = int(mask.sum())
        common.update(unmatched_other_kinds=0, events_total=len(events["kind"]),
                      **cost_columns(acct, 1, n_matched), **_sensor_columns(stats, rss, drained))
        kinds = counted_rows(counted["counts"], declared, events, mask, cls.kinds)
        return Outcome(_kind_rows(common, kinds, stats, drained), None, wall, stats)
