"""Read a results folder and aggregate it across repetitions, for report, exports and compare.

Rows in ``cells.parquet`` are one cell (spec x workload x rate x repetition) x kind. Readers
want one row per *series* x workload x rate (x kind): repetitions combined. How they combine:

- drop rate: pooled, ``sum(expected - matched) / sum(expected)`` (not a mean of ratios);
- latency percentiles: read off the sum of the repetitions' latency histograms (each row
  carries its cell's, ``latency_hist``; percentiles are never averaged). Rows written
  before rows had one: recomputed from the raw per-event latencies in ``events.parquet``,
  as then; without that file either, the median of the per-repeat values, and the report
  says so;
- CPU: mean over repeats (each repeat is one sample of the same quantity); the marginal
  cost with the range its repeats' 95 % intervals lie in (``stats.repeats_range``);
- overhead and slowdown: the paired-block estimate every cell of the series carries
  (``bench.analysis.blocks``: a t-interval over blocks); folders from before blocks existed fall back
  to the mean of per-repeat points with the wider of their CIs and the between-repeat
  t-interval.

A *series* is what one line in a chart is: the backend spec, plus ``@host`` when a merged
folder holds several hosts. A *cell* is named by its host, its run and its id: two runs of
one machine merged into one folder share a host and cell ids, and both count.

The rows hold what was measured; every estimate over paired blocks (overhead, slowdown,
the paired CPU costs, keeping up, ``saturation``) is computed here, on load, by
``bench.results.estimates``. ``raw`` holds the rows with them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from bench.analysis import latency_hist
from bench.analysis.metrics import (OVERHEAD_LIMIT_PCT, PERCENTILES, hist_percentiles_us,
                                    percentiles_us)
from bench.analysis.stats import repeats_range, t_interval
from bench.core.errors import BadInput
from bench.core.kinds import Kind
from bench.core.settings import BASELINE
from bench.results.estimates import KEEP_UP_FIELDS, block_estimate, with_estimates
from bench.results.schema import EVENT_LATENCY
from bench.results.store import ResultsDir, row_runs

CELL_KEY = ["series", "workload_spec", "rate_target"]
KIND_KEY = CELL_KEY + ["kind"]
MODE_ORDER = {"kernel": 0, "user": 1, "calibration": 2}


def rate_value(rate: str) -> float:
    """Offered rate as a number; NaN for closed loop ('max')."""
    try:
        return float(rate)
    except (TypeError, ValueError):
        return math.nan


def rate_order(rates) -> list[str]:
    """Rates ascending, closed-loop 'max' last."""
    return sorted({str(r) for r in rates}, key=lambda r: (math.isnan(rate_value(r)),
                                                          rate_value(r) if rate_value(r) == rate_value(r) else 0))


def kind_order(kind: str) -> int:
    try:
        return int(Kind[kind])
    except KeyError:
        return 99


@dataclass
class RunData:
    """One results folder, read once; aggregated views are computed on first use."""

    path: Path
    raw: pd.DataFrame      # every row of cells.parquet, with its estimates, run and series
    meta: dict
    notes: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path, strict_meta: bool = True) -> RunData:
        """Read a results folder. An unreadable ``meta.json`` is a BadInput, or with
        ``strict_meta=False`` (a report can still show the cells) a note."""
        path = Path(path)
        if not path.is_dir():
            raise BadInput(f"{path} is not a results folder (no such directory)")
        res = ResultsDir(path, create=False)
        df = res.cells().copy()
        # A failure scenario's cells are a sensor failing on purpose: they belong to the
        # scenarios table (``scenarios``), never to the cost and loss views, compare or the
        # exports, where cells of different faults would pass for repeats of one cell.
        if "scenario" in df.columns:
            df = df[df["scenario"].fillna("").astype(str) == ""].reset_index(drop=True)
        notes = []
        try:
            meta = res.meta()
        except BadInput as e:
            if strict_meta:
                raise
            meta = {}
            notes.append(f"{e}: machine facts and settings are not shown")
        if "host" not in df.columns:
            df["host"] = (meta.get("machine") or {}).get("hostname") or ""
        df["host"] = df["host"].astype("string").fillna("")
        df["run"] = row_runs(df, meta, path)
        df = with_estimates(res.with_op_times(df), _overhead_limit(meta))
        multi_host = df["host"].nunique() > 1
        df["series"] = (df["spec"] + "@" + df["host"]) if multi_host else df["spec"]
        df["rate_target"] = df["rate_target"].astype("string")
        df["kind"] = df["kind"].astype("string")
        return cls(path, df, meta, notes)

    # -- basic views -------------------------------------------------------------------
    @property
    def measured(self) -> pd.DataFrame:
        return self.raw[self.raw["backend"] != BASELINE]

    @property
    def baseline(self) -> pd.DataFrame:
        return self.raw[self.raw["backend"] == BASELINE]

    @property
    def multi_host(self) -> bool:
        return self.raw["host"].nunique() > 1

    def rates(self) -> list[str]:
        return rate_order(self.measured["rate_target"].dropna().unique())

    def numeric_rates(self) -> list[str]:
        return [r for r in self.rates() if not math.isnan(rate_value(r))]

    def workloads(self) -> list[str]:
        return list(dict.fromkeys(self.measured["workload_spec"].dropna()))

    def series_info(self) -> pd.DataFrame:
        """One row per series: backend, spec, mode, mechanism, host; kernel first."""
        cols = ["series", "backend", "spec", "mode", "mechanism", "host"]
        s = self.measured[cols].drop_duplicates("series").copy()
        s["_o"] = s["mode"].map(MODE_ORDER).fillna(3)
        return s.sort_values(["_o", "series"]).drop(columns="_o").reset_index(drop=True)

    # -- failure scenarios ---------------------------------------------------------------
    @cached_property
    def scenarios(self) -> pd.DataFrame | None:
        """The failure scenarios' rows (``scenarios.parquet``), None without them."""
        return ResultsDir(self.path, create=False).scenarios()

    @cached_property
    def timeline(self) -> pd.DataFrame | None:
        return ResultsDir(self.path, create=False).timeline()

    # -- per-event latencies -----------------------------------------------------------
    @cached_property
    def events(self) -> pd.DataFrame | None:
        p = self.path / "events.parquet"
        if not p.exists():
            return None
        cols = list(EVENT_LATENCY)
        import pyarrow.parquet as pq

        try:
            have = set(pq.read_schema(p).names)
            if not set(cols) <= have:
                raise ValueError(f"columns missing: {', '.join(sorted(set(cols) - have))}")
            ev = pd.read_parquet(p, columns=[c for c in cols + ["host"] if c in have])
        except Exception as e:  # noqa: BLE001 - an unreadable file: report without it
            self.notes.append(f"cannot read {p} ({type(e).__name__}: {e}): latency "
                              "percentiles are the per-repeat medians of cells.parquet")
            return None
        if "host" not in ev.columns:
            hosts = self.raw["host"].unique()
            ev["host"] = hosts[0] if len(hosts) else ""
        ev["kind"] = ev["kind"].astype("string")
        ev["rate_target"] = ev["rate_target"].astype("string")
        ev["series"] = (ev["spec"] + "@" + ev["host"]) if self.multi_host else ev["spec"]
        return ev

    @cached_property
    def _latency_groups(self) -> dict[tuple, np.ndarray]:
        # One pass over the events instead of a boolean mask per lookup: a reference run
        # holds millions of events and the report looks up hundreds of groups.
        ev = self.events
        if ev is None or not len(ev):
            return {}
        return {key: g.to_numpy(np.float64) / 1e3
                for key, g in ev.groupby(KIND_KEY, sort=False, observed=True)["latency_ns"]}

    def latencies_us(self, series: str, workload: str, rate: str,
                     kind: str | None = None) -> np.ndarray:
        """Latencies (µs) of one series x workload x rate (one kind or all), all repeats:
        every one of them, each at its histogram bucket's middle, where the rows have
        histograms (``latency_hist``); else the raw latencies of ``events.parquet``."""
        h = self.latency_hist(series, workload, rate, kind)
        if h is not None:
            return latency_hist.values(h) / 1e3
        groups = self._latency_groups
        if kind is not None:
            return groups.get((series, workload, rate, kind), np.empty(0))
        parts = [v for k, v in groups.items() if k[:3] == (series, workload, rate)]
        return np.concatenate(parts) if parts else np.empty(0)

    @cached_property
    def _hists(self) -> dict[tuple, object]:
        """Per series x workload x rate x kind that has measured (ok) rows: the sum of their
        latency histograms, or None when one of them has none (a row written before rows
        had one)."""
        ok = self.measured[self.measured["status"] == "ok"]
        if "latency_hist" not in ok.columns:
            return {}
        return {key: latency_hist.merge(g) if g.notna().all() else None
                for key, g in ok.groupby(KIND_KEY, sort=False)["latency_hist"]}

    def latency_hist(self, series: str, workload: str, rate: str, kind: str | None = None):
        """The sum of the latency histograms (``bench.analysis.latency_hist``) of one series
        x workload x rate (one kind or all), all repeats; None when a measured row of it
        has none."""
        if kind is not None:
            return self._hists.get((series, workload, rate, kind))
        parts = [h for k, h in self._hists.items() if k[:3] == (series, workload, rate)]
        if not parts or any(h is None for h in parts):
            return None
        total = latency_hist.new()
        for h in parts:
            total.add(h)
        return total

    def _pooled(self, series: str, workload: str, rate: str,
                kind: str | None = None) -> dict | None:
        """The latency columns of one series x workload x rate (one kind or all), its
        repeats pooled: read off the sum of their histograms (NaN when it is empty), else
        computed from the raw latencies of ``events.parquet``; None without either."""
        h = self.latency_hist(series, workload, rate, kind)
        if h is not None:   # read off the buckets: a pooled group may hold millions
            return hist_percentiles_us(h)
        lat = self.latencies_us(series, workload, rate, kind)
        return percentiles_us(lat, ns_per_value=1e3) if len(lat) else None

    # -- aggregated views --------------------------------------------------------------
    @cached_property
    def kinds(self) -> pd.DataFrame:
        """One row per series x workload x rate x kind, repetitions combined."""
        df = self.measured
        rows = []
        medians = False   # a group whose percentiles are the medians of its repeats'
        for key, g in df.groupby(KIND_KEY, sort=False, dropna=False):
            first = g.iloc[0]
            ok = g[g["status"] == "ok"]
            status, reason = _status(g)
            expected = ok["expected"].fillna(0).astype(float)
            matched = ok["matched"].fillna(0).astype(float)
            per_rep = ((expected - matched) / expected.where(expected > 0)).dropna()
            row = dict(zip(KIND_KEY, key))
            row.update(
                backend=first["backend"], spec=first["spec"], host=first["host"],
                mode=first["mode"], mechanism=first["mechanism"], workload=first["workload"],
                status=status, reason=reason, repeats=_repeats(g),
                expected=int(expected.sum()) if len(ok) else int(g["expected"].fillna(0).sum()),
                matched=int(matched.sum()),
                drop_rate=((expected.sum() - matched.sum()) / expected.sum()
                           if len(ok) and expected.sum() > 0 else math.nan),
                drop_rate_min=per_rep.min() if len(per_rep) else math.nan,
                drop_rate_max=per_rep.max() if len(per_rep) else math.nan,
                duplicates=int(ok["duplicates"].fillna(0).sum()),
                unmatched=int(ok["unmatched"].fillna(0).sum()),
                self_reported_lost=(int(ok["self_reported_lost"].sum())
                                    if ok["self_reported_lost"].notna().any() else pd.NA),
            )
            pk = self._pooled(*key)
            medians |= len(ok) > 0 and self.events is None and self.latency_hist(*key) is None
            for p in (*PERCENTILES, "max"):
                col = f"latency_{p}_us"
                if pk is not None:
                    row[col] = pk[col]
                else:   # no raw events: median of repeats (flagged in notes)
                    row[col] = ok[col].median() if len(ok) else math.nan
                row[f"{col}_min"] = ok[col].min() if len(ok) else math.nan
                row[f"{col}_max"] = ok[col].max() if len(ok) else math.nan
                if p in ("p50", "p99"):
                    # the between-block interval: a t-interval over the per-repeat values
                    _, lo, hi = t_interval(ok[col].astype(float)) if len(ok) else (0, math.nan,
                                                                                   math.nan)
                    row[f"{col}_block_lo"], row[f"{col}_block_hi"] = lo, hi
            rows.append(row)
        out = pd.DataFrame(rows)
        if medians:
            self.notes.append("no events.parquet: latency percentiles are medians of the "
                              "per-repeat percentiles, not pooled")
        return _sort(out)

    @cached_property
    def per_cell(self) -> pd.DataFrame:
        """One row per measured cell (one repetition): the values that are per cell, not per
        kind (CPU, slowdown, achieved rate), plus the pooled drop rate over supported kinds."""
        df = self.measured
        rows = []
        for (_host, run, cell), g in df.groupby(["host", "run", "cell"], sort=False):
            first = g.iloc[0]
            ok = g[g["status"] == "ok"]
            exp = ok["expected"].fillna(0).astype(float).sum()
            mat = ok["matched"].fillna(0).astype(float).sum()
            drops = ((ok["expected"].astype(float) - ok["matched"].astype(float))
                     / ok["expected"].astype(float).where(ok["expected"] > 0))
            status, reason = _status(g)
            rows.append({
                **{c: first[c] for c in ["series", "backend", "spec", "host", "mode", "mechanism",
                                         "workload", "workload_spec", "rate_target", "repeat"]},
                "run": run, "cell": cell, "status": status, "reason": reason,
                "drop_rate": (exp - mat) / exp if exp > 0 else math.nan,
                "drop_rate_worst": drops.max() if drops.notna().any() else math.nan,
                **{c: first[c] for c in ["rate_achieved", "sensor_cpu_pct", "cpu_us_per_event",
                                         "sensor_cpu_s", "duration_s",
                                         "kernel_ns_per_event", "slowdown_pct",
                                         "slowdown_ci_low_pct", "slowdown_ci_high_pct",
                                         "sensor_rss_mb", "saturation"]},
                "self_reported_lost": first.get("self_reported_lost", pd.NA),
                "counter_gap": first.get("counter_gap", math.nan),
                "sensor_cpu_source": first.get("sensor_cpu_source", pd.NA),
                **{c: first.get(c, math.nan) for c in COST_FIELDS + MARGINAL_FIELDS},
                **{c: first.get(c, math.nan) for c in BLOCK_FIELDS},
            })
        return pd.DataFrame(rows)

    @cached_property
    def cells(self) -> pd.DataFrame:
        """One row per series x workload x rate, repetitions combined."""
        pc = self.per_cell
        if not len(pc):   # no measured cell: nothing to combine (an empty frame, as for kinds)
            return pd.DataFrame()
        kinds = self.kinds
        base = self._baseline_rates()
        rows = []
        for key, g in pc.groupby(CELL_KEY, sort=False):
            first = g.iloc[0]
            ok = g[g["status"] == "ok"]
            k = kinds[(kinds["series"] == key[0]) & (kinds["workload_spec"] == key[1])
                      & (kinds["rate_target"] == key[2])]
            kok = k[k["status"] == "ok"]
            status, reason = _status(g)
            exp, mat = kok["expected"].sum(), kok["matched"].sum()
            pk = self._pooled(*key)
            row = dict(zip(CELL_KEY, key))
            row.update(
                backend=first["backend"], spec=first["spec"], host=first["host"],
                mode=first["mode"], mechanism=first["mechanism"], workload=first["workload"],
                status=status, reason=reason, repeats=_repeats(g),
                kinds_supported=int(len(kok)), kinds_total=int(len(k)),
                kinds_seen=int((kok["matched"] > 0).sum()),
                drop_rate=(exp - mat) / exp if exp > 0 else math.nan,
                drop_rate_worst=kok["drop_rate"].max() if len(kok) else math.nan,
                latency_p50_us=pk["latency_p50_us"] if pk else
                kok["latency_p50_us"].median() if len(kok) else math.nan,
                latency_p99_us=pk["latency_p99_us"] if pk else
                kok["latency_p99_us"].max() if len(kok) else math.nan,
                rate_achieved=ok["rate_achieved"].mean(),
                baseline_rate_achieved=base.get((first["host"], key[1], key[2]), math.nan),
                baseline_lag_growth_ms=self._baseline_lag().get((first["host"], key[1], key[2]),
                                                                math.nan),
                sensor_cpu_pct=ok["sensor_cpu_pct"].mean(),
                cpu_us_per_event=ok["cpu_us_per_event"].mean(),
                cpu_us_per_event_min=ok["cpu_us_per_event"].min(),
                cpu_us_per_event_max=ok["cpu_us_per_event"].max(),
                kernel_ns_per_event=ok["kernel_ns_per_event"].mean(),
                sensor_rss_mb=ok["sensor_rss_mb"].mean(),
                saturation=_saturation_summary(ok["saturation"]),
                # missed events minus the backend's own loss count, summed over repeats
                counter_gap=(float(ok["counter_gap"].astype(float).sum())
                             if ok["counter_gap"].notna().any() else math.nan),
            )
            # Cost columns come from every cell whose sensor ran, including a control that
            # reports no kind (null_sensor, all rows 'unsupported').
            ran = g[(g["status"] == "ok") | g["sensor_cpu_s"].notna()]
            if len(ran) and len(ok) == 0:
                row.update(sensor_cpu_pct=ran["sensor_cpu_pct"].mean(),
                           rate_achieved=ran["rate_achieved"].mean())
            row.update(block_estimate(ran))
            # the sensor's fixed and per-event CPU, mean over repeats (folders from before
            # they were measured: NaN)
            row.update({c: pd.to_numeric(ran[c], errors="coerce").mean() if len(ran)
                        else math.nan for c in COST_FIELDS})
            # the marginal cost: mean, and the range its repeats' intervals lie in
            row.update(zip(MARGINAL_FIELDS, repeats_range(
                *(pd.to_numeric(ran.get(c, pd.Series(dtype=float)), errors="coerce")
                  for c in MARGINAL_FIELDS))))
            row["schedule_lag_growth_ms"] = (ran["schedule_lag_growth_ms"].max()
                                             if len(ran) else math.nan)
            rows.append(row)
        return _sort(pd.DataFrame(rows))

    def _baseline_lag(self) -> dict:
        b = self.baseline
        if not len(b) or "schedule_lag_growth_ms" not in b.columns:
            return {}
        b = b.drop_duplicates(["host", "run", "cell"])
        return (b.groupby(["host", "workload_spec", "rate_target"])["schedule_lag_growth_ms"]
                .median().to_dict())

    @property
    def overhead_limit_pct(self) -> float:
        """The material overhead limit the run was judged with (meta.json rules)."""
        return _overhead_limit(self.meta)

    # -- the backends, as the run recorded them ------------------------------------------
    def backend_records(self) -> dict[str, dict]:
        """Each backend name's record in ``meta.json`` (``harness.session.backend_record``:
        mode, mechanism, kinds, partial keys, the reference backend of a real tool), from
        every input of a merged folder; what the folder says, whatever code is installed."""
        metas = [m.get("meta") or {} for m in self.meta.get("merged_from") or []
                 if isinstance(m, dict)] or [self.meta]
        out: dict[str, dict] = {}
        for meta in metas:
            for spec, rec in (meta.get("backends") or {}).items():
                if isinstance(rec, dict):
                    out.setdefault(rec.get("name") or spec.split(":")[0], rec)
        return out

    def _baseline_rates(self) -> dict:
        b = self.baseline
        if not len(b):
            return {}
        b = b.drop_duplicates(["host", "run", "cell"])
        # the median: one baseline a neighbour's burst held back does not say the generator
        # could not offer the rate (a searched run has a dozen baselines at a rate)
        return (b.groupby(["host", "workload_spec", "rate_target"])["rate_achieved"]
                .median().to_dict())


def _overhead_limit(meta: dict) -> float:
    v = (meta.get("rules") or {}).get("overhead_limit_pct", OVERHEAD_LIMIT_PCT)
    return float(v) if isinstance(v, (int, float)) else OVERHEAD_LIMIT_PCT


def _repeats(g: pd.DataFrame) -> int:
    """Repeats a group holds: its runs' repetitions (two runs' repeat 0 are two)."""
    return len(g.dropna(subset=["repeat"]).drop_duplicates(["run", "repeat"]))


# per-cell CPU readings (bench.harness.accounting) carried to the combined rows as means
COST_FIELDS = ("sensor_idle_cpu_pct", "sensor_startup_cpu_s", "adapter_cpu_s",
               "workload_cpu_us_per_op")

# the per-event cost above idle and its 95 % interval (bench.harness.accounting)
MARGINAL_FIELDS = ("sensor_marginal_us_per_event", "sensor_marginal_ci_low_us",
                   "sensor_marginal_ci_high_us")

BLOCK_FIELDS = ("overhead_ns_per_op", "overhead_ci_low_ns", "overhead_ci_high_ns",
                "machine_cpu_us_per_op", "machine_cpu_ci_low_us", "machine_cpu_ci_high_us",
                "blocks_used", "blocks_dropped", "block_overhead_ns", "schedule_lag_growth_ms",
                *KEEP_UP_FIELDS)


def _status(g: pd.DataFrame) -> tuple[str, str]:
    st = g["status"].fillna("failed")
    if (st == "ok").any():
        return "ok", ""
    if (st == "unsupported").any():
        # Support is a property of the backend, not of one repeat: a repeat skipped for a
        # busy resource does not make an unsupported kind "skipped".
        return "unsupported", str(g.loc[st == "unsupported", "reason"].iloc[0] or "")
    bad = g[st.isin(["failed", "skipped"])]
    first = bad.iloc[0] if len(bad) else g.iloc[0]
    return str(first["status"]), str(first["reason"] if first["reason"] is not pd.NA else "")


def _saturation_summary(s: pd.Series) -> str:
    """The saturation flags seen in any repeat, e.g. 'drops+slows' when one repeat dropped
    and another slowed."""
    flags = set()
    for v in s.dropna():
        flags.update(x for x in str(v).split("+") if x)
    return "+".join(f for f in ("drops", "slows") if f in flags)


def _sort(df: pd.DataFrame) -> pd.DataFrame:
    if not len(df):
        return df
    df = df.copy()
    df["_m"] = df["mode"].map(MODE_ORDER).fillna(3)
    df["_r"] = df["rate_target"].map(lambda r: rate_value(r) if rate_value(r) == rate_value(r)
                                     else math.inf)
    keys = ["workload_spec", "_m", "series", "_r"]
    if "kind" in df.columns:
        df["_k"] = df["kind"].map(lambda k: kind_order(k) if isinstance(k, str) else 99)
        keys.append("_k")
    return df.sort_values(keys).drop(columns=[c for c in ("_m", "_r", "_k") if c in df]) \
        .reset_index(drop=True)
