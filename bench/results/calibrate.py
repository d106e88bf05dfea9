"""``sensorbench calibrate``: how far this machine's overhead numbers can be trusted.

Before trusting an overhead figure, run the method against sensors whose truth is known,
many times, on this machine, at the settings the real runs use:

- ``null_sensor`` (the A/A control): a consumer that subscribes to nothing. Its true
  overhead is 0.
- ``injected_cost:ns=N``: an eBPF program that busy-waits in the kernel on the one syscall
  that starts each workload operation, in the workload's cgroup only. It counts what it
  spun (``injected_ns_per_run``). On top of that, every run of a syscall tracepoint program
  costs a fixed amount (the tracepoint's dispatch, the program's entry and exit: about
  0.2 µs in a hot loop, more in a cold workload path) that nothing counts: the
  ``injected_cost:ns=0`` arm measures it on each workload, and the truth of the other arms
  is what they spun plus that fixed cost. The spin is the known part; the check is that
  the harness recovers it on top of the program's fixed cost.

Each control runs ``runs`` times x ``blocks`` paired blocks (a baseline cell and a sensor
cell next to each other in random order), exactly as ``sensorbench run`` measures a real
sensor. Every group of ``blocks`` blocks gives one estimate with its 95 % interval (the
rule of ``bench.analysis.blocks``), and the summary says, per workload and control:

- **coverage**: in how many runs the interval held the truth (a 95 % interval should hold
  it in about 19 of 20; far fewer means the intervals are too narrow on this machine);
- **half-width**: the median half-width of the intervals: the smallest overhead per
  operation this machine can tell from zero at these settings;
- **bias**: the median estimate minus the truth;
- **steal**: the CPU the hypervisor took from this machine's vCPUs during the cells.

It warns when coverage falls short, and with ``--effect US`` it says whether an overhead
of that size can be resolved, with how many blocks it could be (the half-width shrinks
with the square root of the block count).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bench.analysis.blocks import paired
from bench.core.settings import BASELINE
from bench.harness.machine import STEAL_WARN_PCT
from bench.results.estimates import number
from bench.results.rundata import RunData
from bench.results.store import records

COVERAGE_FLOOR = 0.85      # below this share of runs covering the truth: intervals too narrow
BIAS_FLOOR_US = 0.5        # the median estimate's distance from the truth it may have
BIAS_SE = 2.0              # ... unless the median's own standard error is this much larger
NULL = "null_sensor"
INJECT = "injected_cost"


FIXED = f"{INJECT}:ns=0"


def control_specs(inject_ns: list[float]) -> list[str]:
    return [NULL, FIXED, *(f"{INJECT}:ns={n:g}" for n in inject_ns)]


@dataclass
class Summary:
    workload: str
    control: str
    injected_us: float         # median over runs of what the control spun per operation
    fixed_us: float            # the program's fixed cost added to the truth (ns=0 arm)
    truth_us: float            # median over runs of each run's truth (NaN: none known)
    runs: int
    covered: int
    estimate_us: float         # median of the runs' estimates
    bias_us: float             # median of estimate - truth
    bias_se_us: float          # its standard error (1.2533 sd / sqrt n): the noise in it
    half_width_us: float       # median half-width of the runs' intervals
    blocks_per_run: int
    blocks_dropped: int
    steal_pct_max: float       # the highest steal seen in a cell

    @property
    def coverage(self) -> float:
        return self.covered / self.runs if self.runs else math.nan

    def blocks_to_resolve(self, effect_us: float) -> int | None:
        """Blocks per run whose half-width would be ``effect_us`` (half-width ~ 1/sqrt)."""
        if not (self.half_width_us == self.half_width_us and effect_us > 0):
            return None
        return max(2, math.ceil(self.blocks_per_run * (self.half_width_us / effect_us) ** 2))


def _spun_ns(spec: str, stats: dict | None) -> float:
    """What the control injected per operation, as it counted it (0 for the null sensor)."""
    if spec == NULL:
        return 0.0
    v = (stats or {}).get("injected_ns_per_run")
    return float(v) if isinstance(v, (int, float)) else math.nan


def analyse(folder: Path, blocks_per_run: int) -> list[Summary]:
    """Summaries of a calibration results folder: runs are consecutive groups of
    ``blocks_per_run`` blocks of each control x workload."""
    run = RunData.load(folder)   # each cell's time per operation, as every reader has it
    stats = run.meta.get("backend_stats") or {}
    frame = run.raw.drop_duplicates(["run", "cell"])
    cells = {r["cell"]: r for r in records(frame)}
    # block -> {"sensor": row, "baseline": row}
    blocks: dict[str, dict[str, dict]] = {}
    for r in cells.values():
        if r.get("block") and r["backend"] != BASELINE:
            blocks[r["block"]] = {"sensor": r, "baseline": cells.get(r.get("baseline_cell"))}
    groups: dict[tuple[str, str, int], list[dict[str, dict]]] = {}
    for b in blocks.values():
        s = b["sensor"]
        key = (s["workload_spec"], s["spec"], int(s["repeat"]) // blocks_per_run)
        groups.setdefault(key, []).append(b)
    per: dict[tuple[str, str], list[dict]] = {}
    for (workload, spec, _g), bl in sorted(groups.items()):
        s_means, b_means, spun, steal = [], [], [], []
        for b in bl:
            for side, means in (("sensor", s_means), ("baseline", b_means)):
                r = b.get(side)
                ok = r is not None and r.get("status") in ("ok", "unsupported")
                means.append(number(r.get("op_time_ns")) if ok else math.nan)
                if r is not None:
                    steal.append(number(r.get("machine_steal_pct")))
            spun.append(_spun_ns(spec, stats.get(b["sensor"]["cell"])))
        est = paired(s_means, b_means)
        per.setdefault((workload, spec), []).append({
            "estimate": est.overhead_ns, "lo": est.overhead_lo_ns, "hi": est.overhead_hi_ns,
            "spun": float(np.nanmean(spun)) if np.isfinite(spun).any() else math.nan,
            "dropped": est.blocks_dropped,
            "steal": max([x for x in steal if not math.isnan(x)], default=math.nan)})
    # The program's own fixed cost (tracepoint dispatch, its entry and exit): what the
    # ns=0 arm adds above the little it spins. Known only by measuring it, here, per workload.
    fixed: dict[str, float] = {}
    for (workload, spec), runs in per.items():
        if spec == FIXED:
            ok = [x for x in runs if x["estimate"] == x["estimate"]]
            fixed[workload] = (float(np.median([x["estimate"] - x["spun"] for x in ok]))
                               if ok else math.nan)
    out = []
    for (workload, spec), runs in per.items():
        add = 0.0 if spec == NULL else fixed.get(workload, math.nan)
        for x in runs:
            x["truth"] = math.nan if spec == FIXED else x["spun"] + add
        done = [x for x in runs if x["lo"] == x["lo"]]
        judged = [x for x in done if x["truth"] == x["truth"]]

        def med(v) -> float:
            return float(np.median(v)) / 1e3 if len(v) else math.nan

        out.append(Summary(
            workload=workload, control=spec,
            injected_us=med([x["spun"] for x in done]),
            fixed_us=math.nan if spec == FIXED else add / 1e3,
            truth_us=med([x["truth"] for x in judged]), runs=len(done),
            covered=sum(x["lo"] <= x["truth"] <= x["hi"] for x in judged),
            estimate_us=med([x["estimate"] for x in done]),
            bias_us=med([x["estimate"] - x["truth"] for x in judged]),
            bias_se_us=_median_se([x["estimate"] - x["truth"] for x in judged]) / 1e3,
            half_width_us=med([(x["hi"] - x["lo"]) / 2 for x in done]),
            blocks_per_run=blocks_per_run, blocks_dropped=sum(x["dropped"] for x in runs),
            steal_pct_max=max([x["steal"] for x in runs if x["steal"] == x["steal"]],
                              default=math.nan)))
    return out


def _median_se(values) -> float:
    """Standard error of a median (of roughly normal values): 1.2533 sd / sqrt(n)."""
    v = np.asarray(values, float)
    return float(1.2533 * np.std(v, ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan


def _bias_tolerance(s: Summary) -> float:
    """How far the median estimate may sit from the truth: 0.5 µs, or 10 % of what was
    injected when that is more (the check a +2 µs and a +10 µs arm must pass)."""
    return max(BIAS_FLOOR_US, 0.1 * s.injected_us if s.injected_us == s.injected_us else 0.0)


def findings(summaries: list[Summary], effect_us: float | None = None) -> tuple[list[str], bool]:
    """Warnings to print, and whether the machine passed: every control's intervals held
    the truth often enough, and (with ``effect_us``) the A/A half-width resolves it."""
    notes, ok = [], True
    for s in summaries:
        where = f"{s.control} on {s.workload}"
        if s.runs == 0:
            notes.append(f"{where}: no run produced an interval (cells failed?)")
            ok = False
            continue
        if s.truth_us == s.truth_us and s.coverage < COVERAGE_FLOOR:
            ok = False
            notes.append(f"{where}: the 95 % interval held the truth in only {s.covered} of "
                         f"{s.runs} runs: overhead intervals are too narrow on this machine "
                         "at these settings (more blocks, longer cells, a quieter machine)")
        tol = _bias_tolerance(s)
        if s.truth_us == s.truth_us and abs(s.bias_us) > tol:
            # Biased only when the median is off by more than its own noise can explain:
            # on a machine whose intervals are ±600 µs wide, a median of 20 estimates
            # moves by tens of µs from one calibration to the next.
            if abs(s.bias_us) > BIAS_SE * s.bias_se_us:
                ok = False
                notes.append(f"{where}: the estimates sit {s.bias_us:+.2f} µs from the truth "
                             f"(median of {s.runs} runs, ± {s.bias_se_us:.2f} µs; tolerance "
                             f"±{tol:.2f} µs): the method is biased here")
            else:
                notes.append(f"{where}: the median estimate sits {s.bias_us:+.2f} µs from the "
                             f"truth, within the noise of a median of {s.runs} runs "
                             f"(± {s.bias_se_us:.2f} µs): too noisy here to check the "
                             f"±{tol:.2f} µs tolerance; more runs would")
        if effect_us is not None and s.control == NULL and s.half_width_us > effect_us:
            ok = False
            need = s.blocks_to_resolve(effect_us)
            notes.append(f"{s.workload}: cannot resolve {effect_us:g} µs per operation: the "
                         f"A/A interval is ±{s.half_width_us:.1f} µs with {s.blocks_per_run} "
                         f"blocks; about {need} blocks a run would resolve it")
    steal = [(s.steal_pct_max, s.workload) for s in summaries if s.steal_pct_max > STEAL_WARN_PCT]
    if steal:
        worst = max(steal)
        notes.append(f"the hypervisor stole more than {STEAL_WARN_PCT:g} % of CPU time in cells "
                     f"of {len(steal)} control(s), up to {worst[0]:.0f} % ({worst[1]}): those "
                     "blocks are noisier")
    return notes, ok


def save(folder: Path, summaries: list[Summary], settings: dict) -> Path:
    path = Path(folder) / "calibration.json"
    doc = {"settings": settings,
           "summaries": [{**asdict(s), "coverage": s.coverage} for s in summaries]}
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return path
