"""``sensorbench compare BASE NEW``: what changed between two results folders, and whether
the change is bigger than the noise.

Pairing. Cells are compared per backend spec x workload x rate (x kind for per-kind
metrics), repetitions combined as in ``bench.results.rundata``. Specs present on both sides
pair by their exact text. A spec left over on each side pairs by backend name when that
backend has exactly one leftover spec on each side, so ``synthetic`` (BASE) meets
``synthetic:delay_us=2000`` (NEW) and ``psutil:interval_ms=100`` meets
``psutil:interval_ms=500``: the question is then "did this backend get worse with that
setting". Anything still unpaired is *missing*.

Verdict per metric (all metrics are smaller-is-better). Each side has a value and a noise
interval:

- latency p50/p99: value pooled over all repeats' raw events; interval the hull of the
  per-repeat values, their t-interval over blocks (the variance between cells, which
  dominates on a shared machine) and the distribution-free 95 % CI of the pooled quantile
  (order statistics, the variance within them);
- drop rate: pooled; interval the hull of per-repeat rates and the Wilson 95 % CI;
- CPU (µs/event, % of a core): mean of repeats; interval the hull of the repeats, each
  widened by the resolution of process CPU time (two clock ticks over the cell), and of
  their t-interval (the variance between cells);
- slowdown: the paired-block point and its 95 % t-interval over blocks (bench.analysis.blocks).

A change is a **regression** when it is (1) at least the minimum effect — the ratio
new/base is at least ``factor`` (default 1.10, like asv's ``--factor``; more for a metric
that drifts between runs, ``Metric.min_factor``) *and* the absolute
change is at least the metric's floor (e.g. 0.1 percentage points of drops, 5 points of
slowdown), so a 2 µs -> 3 µs p50 is not "+50 %" — and (2) outside the noise: the two
intervals do not overlap. Big but overlapping changes are ``not significant``; a change
whose noise cannot be judged (one repeat and no CI) is ``uncertain`` and never fails the
gate — run with ``--repeat 2`` or more. Improvements are judged the same way.

Exit codes: 0 no regression; 1 a gated metric regressed or a cell that was ``ok`` in BASE
failed in NEW; 2 could not compare — nothing in common, cells missing on either side or
skipped in NEW (unless ``allow_missing``) or the two runs come from different machines (CPU model, CPU
count or kernel differ; unless ``cross_machine``). Exit 2 wins over 1: a partial
comparison is not a pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bench.core.cpu import resolution_s
from bench.core import fmt
from bench.core.errors import BadInput
from bench.analysis.metrics import DROP_THRESHOLD, SLOW_THRESHOLD_PCT
from bench.analysis.stats import t_interval
from bench.results.rundata import RunData

Z95 = 1.96


@dataclass
class Metric:
    name: str
    unit: str
    level: str            # 'kind' or 'cell'
    floor: float          # minimum absolute change, in ``unit``
    relative: bool = True  # False: judged on the absolute change only (slowdown can be 0)
    gate: bool = True      # fails the comparison by default
    # The least ratio new/base that counts, when the metric drifts between runs of one
    # machine more than the run-wide --min-effect allows for (the larger of the two holds).
    min_factor: float = 1.0


METRICS = {
    # Thresholds and gating from A/A and injected-delay comparisons: docs/lab-notes.md,
    # "What compare gates on".
    # gated: the p50 is where a sensor that got slower to report shows first and clearest
    "latency_p50": Metric("latency p50", "µs", "kind", 20.0),
    # shown, not gated: the p99 is the machine's tail; `--fail-on latency_p99=25%` gates it
    "latency_p99": Metric("latency p99", "µs", "kind", 50.0, gate=False),
    "drop_rate": Metric("drop rate", "%", "kind", DROP_THRESHOLD * 100),
    # A Python consumer's CPU per event drifts with the machine between runs, all repeats
    # of a run together: judged from +20 % up.
    "cpu_us_per_event": Metric("CPU per event", "µs", "cell", 1.0, min_factor=1.20),
    "sensor_cpu_pct": Metric("sensor CPU", "% core", "cell", 1.0, gate=False),
    "slowdown": Metric("slowdown", "%", "cell", SLOW_THRESHOLD_PCT, relative=False),
    # time added per operation, with its paired-block interval: the primary cost number
    "overhead": Metric("overhead per op", "µs", "cell", 1.0, relative=False),
    # the total cost of sensing (whole-machine CPU per operation), paired-block interval;
    # not gated by default: the machine's own noise makes it the widest interval here
    "machine_cpu": Metric("machine CPU per op", "µs", "cell", 2.0, relative=False,
                          gate=False),
}
# per-cell metrics read from the paired-block estimate: (point, low, high) columns, in µs
BLOCK_METRICS = {
    "overhead": ("overhead_ns_per_op", "overhead_ci_low_ns", "overhead_ci_high_ns", 1e3),
    "machine_cpu": ("machine_cpu_us_per_op", "machine_cpu_ci_low_us",
                    "machine_cpu_ci_high_us", 1.0),
}
DEFAULT_FACTOR = 1.10


@dataclass
class Side:
    value: float
    lo: float
    hi: float

    @property
    def known(self) -> bool:
        return self.value == self.value

    @property
    def has_noise(self) -> bool:
        return self.lo == self.lo and self.hi == self.hi and self.hi > self.lo


@dataclass
class Row:
    base_spec: str
    new_spec: str
    workload: str
    rate: str
    kind: str              # '' for per-cell metrics
    metric: str
    base: Side
    new: Side
    verdict: str           # regression, improvement, not significant, uncertain, same, failed
    gated: bool

    @property
    def change(self) -> str:
        b, n = self.base.value, self.new.value
        unit = METRICS[self.metric].unit if self.metric in METRICS else ""
        if math.isnan(b) or math.isnan(n):
            return ""
        d = fmt.number(n - b, sign=True)
        if METRICS.get(self.metric) and METRICS[self.metric].relative and b > 0:
            return f"{d} {unit} ({fmt.number((n / b - 1) * 100, 0, sign=True)} %)"
        return f"{d} {unit}"


@dataclass
class Comparison:
    rows: list[Row]
    pairs: list[tuple[str, str]]              # (base spec, new spec) paired by backend name
    missing: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)   # reasons for exit 2

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.gated and r.verdict in ("regression", "failed")]

    def exit_code(self) -> int:
        if self.problems:
            return 2
        return 1 if self.regressions else 0


# -- noise intervals --------------------------------------------------------------------------
def quantile_ci(values: np.ndarray, q: float) -> tuple[float, float]:
    """Distribution-free 95 % CI of a quantile from order statistics (binomial ranks)."""
    n = len(values)
    if n < 2:
        return math.nan, math.nan
    x = np.sort(values)
    half = Z95 * math.sqrt(n * q * (1 - q))
    lo = int(max(0, math.floor(n * q - half)))
    hi = int(min(n - 1, math.ceil(n * q + half)))
    return float(x[lo]), float(x[hi])


def wilson(k: float, n: float) -> tuple[float, float]:
    """Wilson 95 % interval of a proportion k/n (here: dropped / expected)."""
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    d = 1 + Z95 ** 2 / n
    c = (p + Z95 ** 2 / (2 * n)) / d
    h = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def _hull(*pairs) -> tuple[float, float]:
    lows = [p[0] for p in pairs if p[0] == p[0]]
    highs = [p[1] for p in pairs if p[1] == p[1]]
    return (min(lows) if lows else math.nan, max(highs) if highs else math.nan)


def kind_side(run: RunData, k: pd.Series, metric: str) -> Side:
    if k["status"] != "ok":
        return Side(math.nan, math.nan, math.nan)
    if metric == "drop_rate":
        v = k["drop_rate"] * 100
        w = wilson(k["expected"] - k["matched"], k["expected"])
        lo, hi = _hull((k["drop_rate_min"] * 100, k["drop_rate_max"] * 100),
                       (w[0] * 100, w[1] * 100))
        return Side(v, lo, hi)
    p = {"latency_p50": ("p50", 0.50), "latency_p99": ("p99", 0.99)}[metric]
    col = f"latency_{p[0]}_us"
    lat = run.latencies_us(k["series"], k["workload_spec"], k["rate_target"], k["kind"])
    lo, hi = _hull((k[f"{col}_min"], k[f"{col}_max"]),
                   (k.get(f"{col}_block_lo", math.nan), k.get(f"{col}_block_hi", math.nan)),
                   quantile_ci(lat, p[1]))
    return Side(k[col], lo, hi)


def cell_side(run: RunData, key: tuple, metric: str) -> Side:
    if metric == "slowdown" or metric in BLOCK_METRICS:
        c = run.cells
        r = c[(c["series"] == key[0]) & (c["workload_spec"] == key[1]) & (c["rate_target"] == key[2])]
        if not len(r):
            return Side(math.nan, math.nan, math.nan)
        r = r.iloc[0]
        if metric in BLOCK_METRICS:   # block interval, in µs
            *cols, scale = BLOCK_METRICS[metric]
            return Side(*(float(r[c]) / scale if c in r.index else math.nan for c in cols))
        return Side(r["slowdown_pct"], r["slowdown_ci_low_pct"], r["slowdown_ci_high_pct"])
    pc = run.per_cell
    g = pc[(pc["series"] == key[0]) & (pc["workload_spec"] == key[1])
           & (pc["rate_target"] == key[2]) & (pc["status"] == "ok")]
    g = g[g[metric].notna()]
    if not len(g):
        return Side(math.nan, math.nan, math.nan)
    v = g[metric].astype(float)
    q = cpu_resolution(g, metric)
    # The repeats' hull, each widened by the clock's resolution, and their t-interval: the
    # hull of three cells is narrower than the spread between runs (docs/lab-notes.md); the
    # t-interval over cells is the between-cell variance every other metric is judged by.
    _, t_lo, t_hi = t_interval(v.to_numpy())   # NaN bounds with one repeat
    lo, hi = _hull((float((v - q).min()), float((v + q).max())), (t_lo, t_hi))
    lo = max(0.0, lo) if not math.isnan(lo) else lo
    return Side(float(v.mean()), lo, hi)


def cpu_ticks_s(source: pd.Series) -> pd.Series:
    """How far each row's CPU total can be off (s), by the CPU source it recorded, never by
    the machine reading the folder (``bench.core.cpu.resolution_s``; an older folder that
    did not record its source read a process tree)."""
    return source.astype("string").fillna("process tree").map(resolution_s).astype(float)


def cpu_resolution(g: pd.DataFrame, metric: str) -> pd.Series:
    """How coarse one repeat's CPU number is. Process CPU time comes in clock ticks, read
    at the start and the end of a cell, so each CPU total is only known to about two ticks
    (``cpu_ticks_s``); spread over the cell's events or duration, that is a noise floor no
    number of repeats removes."""
    source = g["sensor_cpu_source"] if "sensor_cpu_source" in g.columns \
        else pd.Series(pd.NA, index=g.index)
    ticks = cpu_ticks_s(source)
    cpu_s = g["sensor_cpu_s"].astype(float)
    if metric == "cpu_us_per_event":
        # events = cpu_s * 1e6 / us_per_event, so two ticks per event is:
        q = g[metric].astype(float) * ticks / cpu_s.where(cpu_s > 0)
    else:   # % of one core over the cell
        q = ticks / g["duration_s"].astype(float) * 100
    return q.fillna(0.0)


def verdict(m: Metric, base: Side, new: Side, factor: float) -> str:
    if not (base.known and new.known):
        return "same" if base.known == new.known else "uncertain"
    d = new.value - base.value

    def big(worse: bool) -> bool:
        delta = d if worse else -d
        if delta < m.floor:
            return False
        if not m.relative:
            return True
        hi, lo = (new.value, base.value) if worse else (base.value, new.value)
        return lo <= 0 or hi / lo >= factor

    for worse, name in ((True, "regression"), (False, "improvement")):
        if big(worse):
            if not (base.has_noise or new.has_noise):
                return "uncertain"
            separated = new.lo > base.hi if worse else new.hi < base.lo
            return name if separated else "not significant"
    return "same"


# -- pairing ----------------------------------------------------------------------------------
def pair_specs(base: RunData, new: RunData) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """base series -> new series: exact matches, then one leftover per backend (and host)."""
    b_info = base.series_info().set_index("series")
    n_info = new.series_info().set_index("series")
    pairs = {s: s for s in b_info.index if s in n_info.index}
    left_b = [s for s in b_info.index if s not in pairs]
    left_n = [s for s in n_info.index if s not in pairs.values()]
    by_name = []

    def ident(info, s):
        return (info.loc[s, "backend"], info.loc[s, "host"] if base.multi_host else "")

    for s in left_b:
        cand_b = [x for x in left_b if ident(b_info, x) == ident(b_info, s)]
        cand_n = [x for x in left_n if ident(n_info, x) == ident(b_info, s)]
        if len(cand_b) == 1 and len(cand_n) == 1:
            pairs[s] = cand_n[0]
            by_name.append((s, cand_n[0]))
    return pairs, by_name


def _machine_differences(a: dict, b: dict) -> list[str]:
    ma, mb = a.get("machine") or {}, b.get("machine") or {}
    out = []
    for k in ("cpu_model", "cpu_logical", "kernel"):
        if ma.get(k) != mb.get(k):
            out.append(f"{k}: {ma.get(k)!r} vs {mb.get(k)!r}")
    return out


def parse_fail_on(items: list[str]) -> dict[str, tuple[str, float]]:
    """``METRIC=N`` (absolute, in the metric's unit) or ``METRIC=N%`` (relative)."""
    out = {}
    for item in items:
        name, sep, val = item.partition("=")
        name = name.strip().replace("-", "_")
        if name == "slowdown_pct":
            name = "slowdown"
        if not sep or name not in METRICS:
            raise BadInput(f"bad --fail-on {item!r}: give METRIC=N or METRIC=N% with METRIC "
                           f"one of {', '.join(METRICS)}")
        rel = val.strip().endswith("%")
        try:
            x = float(val.strip().rstrip("%"))
        except ValueError:
            raise BadInput(f"bad --fail-on {item!r}: {val!r} is not a number") from None
        if x < 0 or (rel and not METRICS[name].relative):
            raise BadInput(f"bad --fail-on {item!r}: "
                           + ("must be >= 0" if x < 0 else f"{name} takes an absolute value"))
        out[name] = ("rel" if rel else "abs", x)
    return out


# -- the comparison ---------------------------------------------------------------------------
def compare(base: RunData, new: RunData, factor: float = DEFAULT_FACTOR,
            fail_on: dict[str, tuple[str, float]] | None = None,
            allow_missing: bool = False, cross_machine: bool = False) -> Comparison:
    if factor < 1:
        raise BadInput(f"bad --min-effect: the factor {factor} must be >= 1")
    metrics = {k: Metric(**vars(m)) for k, m in METRICS.items()}
    factors = {k: max(factor, m.min_factor) for k, m in metrics.items()}
    if fail_on:
        # Naming metrics gates exactly those, with the given minimum effect.
        for k, m in metrics.items():
            m.gate = k in fail_on
        for k, (how, x) in fail_on.items():
            if how == "rel":
                factors[k] = 1 + x / 100
            else:
                metrics[k].floor = x
    pairs, by_name = pair_specs(base, new)
    cmp = Comparison([], by_name)
    bw, nw = base.meta.get("warnings") or [], new.meta.get("warnings") or []
    cmp.warnings += [f"{'BASE and NEW' if w in nw else 'BASE'} machine: {w}" for w in bw]
    cmp.warnings += [f"NEW machine: {w}" for w in nw if w not in bw]
    for src, name in ((base, "BASE"), (new, "NEW")):
        if src.meta.get("interrupted"):
            cmp.warnings.append(f"{name} run was interrupted: some cells are missing")
    diff = _machine_differences(base.meta, new.meta)
    if diff:
        msg = "different machines (" + "; ".join(diff) + ")"
        (cmp.warnings if cross_machine else cmp.problems).append(
            msg + ("" if cross_machine else ": pass --cross-machine to compare anyway"))

    matched_new: set = set()
    if len(base.raw) and len(new.raw):   # folders of failure scenarios only have no cells
        matched_new = _compare_cells(base, new, cmp, pairs, metrics, factors)
    elif len(base.raw) or len(new.raw):
        cmp.problems.append("one folder has cost cells, the other failure scenarios only")
    matched_scenarios = compare_scenarios(base, new, cmp, factor)
    if not matched_new and not matched_scenarios:
        cmp.problems.append("BASE and NEW have no cell in common (same backends, workloads "
                            "and rates?)")
    elif cmp.missing and not allow_missing:
        cmp.problems.append(f"{len(cmp.missing)} cells or kinds are in only one run (or skipped in NEW): pass "
                            "--allow-missing to compare the rest")
    order = {"failed": 0, "regression": 1, "improvement": 2, "not significant": 3,
             "uncertain": 4, "same": 5}
    cmp.rows.sort(key=lambda r: (order.get(r.verdict, 9), r.workload, r.base_spec, r.rate,
                                 r.kind, r.metric))
    return cmp


def _compare_cells(base: RunData, new: RunData, cmp: Comparison, pairs: dict,
                   metrics: dict, factors: dict) -> set:
    """The cost and loss cells of both folders, paired; the NEW keys that were paired."""
    bc, nc = base.cells.set_index(["series", "workload_spec", "rate_target"]), \
        new.cells.set_index(["series", "workload_spec", "rate_target"])
    nk = {tuple(r[c] for c in ("series", "workload_spec", "rate_target", "kind")): r
          for _, r in new.kinds.iterrows()}
    bk: dict[tuple, list] = {}
    for _, r in base.kinds.iterrows():
        bk.setdefault((r["series"], r["workload_spec"], r["rate_target"]), []).append(r)
    matched_new: set = set()
    for key, b in bc.iterrows():
        s, wl, rate = key
        nkey = (pairs.get(s), wl, rate)
        if nkey not in nc.index:
            cmp.missing.append(f"{s} {wl} @{rate}: not in NEW")
            continue
        matched_new.add(nkey)
        n = nc.loc[nkey]
        if b["status"] == "ok" and n["status"] == "skipped":
            # The backend could not run in NEW (not root, tool missing): nothing to judge.
            cmp.missing.append(f"{nkey[0]} {wl} @{rate}: skipped in NEW ({n['reason']})")
            continue
        if b["status"] == "ok" and n["status"] != "ok":
            nan = Side(math.nan, math.nan, math.nan)
            cmp.rows.append(Row(s, nkey[0], wl, rate, "", "status", nan, nan,
                                "failed", True))
            cmp.warnings.append(f"{nkey[0]} {wl} @{rate} was ok in BASE, {n['status']} in NEW: "
                                f"{n['reason']}")
            continue
        if b["status"] != "ok":
            continue
        for mk, m in metrics.items():
            if m.level == "cell":
                bs, ns = cell_side(base, key, mk), cell_side(new, nkey, mk)
                cmp.rows.append(Row(s, nkey[0], wl, rate, "", mk, bs, ns,
                                    verdict(m, bs, ns, factors[mk]), m.gate))
        for kb in bk.get(key, []):
            kind = kb["kind"]
            if kb["status"] != "ok":
                continue
            kn = nk.get((*nkey, kind))
            if kn is None:
                cmp.missing.append(f"{s} {wl} @{rate} {kind}: not in NEW")
                continue
            for mk, m in metrics.items():
                if m.level == "kind":
                    bs, ns = kind_side(base, kb, mk), kind_side(new, kn, mk)
                    cmp.rows.append(Row(s, nkey[0], wl, rate, kind, mk, bs, ns,
                                        verdict(m, bs, ns, factors[mk]), m.gate))
    for key in nc.index:
        if key not in matched_new:
            cmp.missing.append(f"{key[0]} {key[1]} @{key[2]}: not in BASE")
    return matched_new


# Failure scenarios: how bad an outcome is for the host and the data, worst last. A worse
# outcome of the same case on the same backend is a regression (gated); the blind window
# and the loss are shown beside it, not gated (one cell each: no noise to judge them by).
OUTCOME_RANK = {"no-loss": 0, "refused": 0, "degraded": 1, "sensor-crashed": 2,
                "host-impact": 3, "failed": 4}


def compare_scenarios(base: RunData, new: RunData, cmp: Comparison, factor: float) -> int:
    """Scenario rows of both folders, paired by case and spec; how many pairs."""
    bs, ns = base.scenarios, new.scenarios
    if bs is None or ns is None:
        return 0
    nrows = {(r["case"], r["spec"]): r for _, r in ns.iterrows()}
    pairs = 0
    for _, b in bs.iterrows():
        if b.get("outcome") == "unsupported":
            continue
        n = nrows.get((b["case"], b["spec"]))
        if n is None:
            cmp.missing.append(f"scenario {b['case']} {b['spec']}: not in NEW")
            continue
        pairs += 1
        rb, rn = OUTCOME_RANK.get(b["outcome"]), OUTCOME_RANK.get(n["outcome"])
        nan = Side(math.nan, math.nan, math.nan)
        verdict = ("same" if rb == rn or rb is None or rn is None else
                   "regression" if rn > rb else "improvement")
        cmp.rows.append(Row(b["spec"], n["spec"], b["case"], str(b["rate_target"]), "",
                            f"outcome {b['outcome']} -> {n['outcome']}", nan, nan, verdict,
                            True))
        for col in ("blind_ms", "events_lost", "workload_stall_ms"):
            # a missing count (pd.NA in an Int64 column: a case that failed) is unknown too
            vb, vn = (math.nan if pd.isna(x) else float(x)
                      for x in (b.get(col, math.nan), n.get(col, math.nan)))
            if math.isnan(vb) or math.isnan(vn):
                continue
            big = vn > vb * factor + 1 or vb > vn * factor + 1
            cmp.rows.append(Row(b["spec"], n["spec"], b["case"], str(b["rate_target"]), "",
                                col, Side(vb, math.nan, math.nan),
                                Side(vn, math.nan, math.nan),
                                "uncertain" if big else "same", False))
    for key in set(nrows) - {(r["case"], r["spec"]) for _, r in bs.iterrows()}:
        if nrows[key].get("outcome") != "unsupported":
            cmp.missing.append(f"scenario {key[0]} {key[1]}: not in BASE")
    return pairs


def to_json(cmp: Comparison) -> dict:
    def side(s: Side):
        return {k: (None if math.isnan(v) else v) for k, v in vars(s).items()}

    return {
        "exit_code": cmp.exit_code(), "problems": cmp.problems, "warnings": cmp.warnings,
        "missing": cmp.missing, "paired_by_backend": [list(p) for p in cmp.pairs],
        "rows": [{"base_spec": r.base_spec, "new_spec": r.new_spec, "workload": r.workload,
                  "rate": r.rate, "kind": r.kind, "metric": r.metric, "base": side(r.base),
                  "new": side(r.new), "change": r.change, "verdict": r.verdict,
                  "gated": r.gated} for r in cmp.rows],
    }
