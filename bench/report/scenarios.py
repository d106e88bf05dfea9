"""The reliability half in the report: what happens when the sensor fails.

One timeline chart per scenario case (a panel per backend): events expected per 10 ms
(by the issue time of their operation, grey), those the sensor observed (coloured), those
it had in hand (by arrival, thin line: a stall shows as a pile-up after it), the fault
window shaded, and the workload's progress (its schedule lag) on a second axis. Then one
table, "what happens when the sensor fails", kernel mode first.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from bench.core import fmt
from bench.report.figure import save, slug
from bench.report.present import Cell, Num, backend
from bench.report.style import MODE_COLOUR, RC, Styles

import matplotlib.pyplot as plt  # noqa: E402

# Said next to every scenario table: what cannot be run here, and why eBPF cannot fail
# the way the 2024 kernel driver did.
NOT_HERE = (
    "Kernel-driver crashes, the 2024 failure itself, cannot run here: a driver that reads "
    "out of bounds takes the whole machine down, and Linux loads no third-party security "
    "driver. An eBPF program cannot fail that way: the verifier proves every memory "
    "access in bounds and every loop bounded before the program may run, and refuses the "
    "program otherwise; what is left to fail is the user-space agent around it, which is "
    "what these scenarios kill and stop.")

# What the table's columns mean, said once for the HTML and the Markdown page.
LEGEND = (
    "One normal cell per row, with a fault injected while the workload ran at a steady rate "
    "(`sensorbench scenario`); kernel mode first. *blind*: the stretch of issue time whose "
    "events were never seen, read off the events; *kill→ready*: the harness's own clock; "
    "*workload held*: how much further behind its schedule the workload got than at worst "
    "before the fault (a syscall made to wait for the sensor); *noticed* (tamper): "
    "*recorded* when the attempt itself is in the sensor's output as a kernel event, "
    "*detected* when only its counters or health say so.")

MODE_ORDER = {"kernel": 0, "user": 1, "calibration": 2}
SHADE = {"dead": "#f4a6a6", "restarting": "#f9d3a5", "stopped": "#c9d7f0"}


def table_rows(sc: pd.DataFrame) -> pd.DataFrame:
    """The scenario rows in reading order: scenario, kernel mode first, then backend. In a
    folder merged from several machines a spec is named with its host (spec@host)."""
    df = sc.copy()
    if "host" in df.columns and df["host"].nunique() > 1:
        df["spec"] = df["spec"].astype(str) + "@" + df["host"].astype(str)
    df["_m"] = df["mode"].map(MODE_ORDER).fillna(3)
    return df.sort_values(["scenario", "case", "_m", "spec"], kind="stable").drop(columns="_m")


def ms(v) -> Num:
    """Milliseconds: whole from 10 up, tenths below."""
    return Num(v, 0 if abs(fmt.value_of(v)) >= 10 else 1)


def timeline_chart(sc: pd.DataFrame, tl: pd.DataFrame, styles: Styles, out: Path,
                   case: str):
    """One scenario case: a panel per backend, events per 10 ms around the fault."""
    rows = table_rows(sc[(sc["case"] == case) & sc["cell"].isin(set(tl["cell"]))])
    if not len(rows):
        return None, "no timeline (every backend was skipped or failed)"
    n = len(rows)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(n, 1, figsize=(10, 1.9 * n + 0.9), squeeze=False,
                                 sharex=True)
        for ax, (_, r) in zip(axes[:, 0], rows.iterrows()):
            mine = tl["cell"] == r["cell"]
            for c in ("host", "run"):   # a merged folder: a cell's id is its run's only
                if c in tl.columns and c in rows.columns and not pd.isna(r[c]):
                    mine &= tl[c] == r[c]
            g = tl[mine].sort_values("t_ms")
            t = g["t_ms"].to_numpy() / 1000
            colour = styles(r["spec"])["color"] if styles(r["spec"])["mode"] != "?" else \
                MODE_COLOUR.get(r["mode"], "#777")
            # Hundreds of 10 ms steps per line: rasterized inside the SVG (text and axes
            # stay vector), or one chart weighs megabytes.
            ax.fill_between(t, g["expected"], step="post", color="#dddddd", linewidth=0,
                            label="expected (by issue time)", rasterized=True)
            ax.step(t, g["observed"], where="post", color=colour, linewidth=1.2,
                    label="observed (by issue time)", rasterized=True)
            ax.step(t, g["seen"], where="post", color="#333333", linewidth=0.6, alpha=0.7,
                    label="in the sensor's hands (by arrival)", rasterized=True)
            state = g["state"].to_numpy()
            for name, c in SHADE.items():
                on = state == name
                if on.any():
                    ax.fill_between(t, 0, 1, where=on, step="post", color=c, alpha=0.5,
                                    transform=ax.get_xaxis_transform(), linewidth=0,
                                    label=name)
            at = r.get("fault_at_ms")
            if _num(at):
                ax.axvline(float(at) / 1000, color="#922b21", linestyle=":", linewidth=1.2,
                           label="fault injected")
            lag = ax.twinx()
            lag.plot(t, g["lag_ms"], color="#7d3c98", linewidth=0.8, alpha=0.8, rasterized=True)
            lag.set_ylabel("workload lag (ms)", color="#7d3c98", fontsize=8)
            lag.tick_params(axis="y", labelsize=7, colors="#7d3c98")
            lag.grid(False)
            lag.spines["right"].set_visible(True)
            ax.set_ylabel("events / 10 ms", fontsize=8)
            ax.set_title(f"{r['spec']} ({r['mode']}, {r['workload_spec']}): {r['outcome']}; "
                         f"blind {ms(r.get('blind_ms')).text()} ms, lost "
                         f"{Num(r.get('events_lost'), 0).text()}, workload held "
                         f"{ms(r.get('workload_stall_ms')).text()} ms", fontsize=9, loc="left")
        axes[-1, 0].set_xlabel("time from the first operation (s)")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        seen = dict(zip(labels, handles))
        for ax in axes[1:, 0]:
            for h, lbl in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(lbl, h)
        height = fig.get_figheight()   # the header is a fixed 0.9 in, whatever n is
        fig.suptitle(f"Scenario {case}: events per 10 ms, the fault shaded, the workload's "
                     "lag in purple", y=1 - 0.12 / height)
        fig.legend(seen.values(), seen.keys(), loc="upper center", ncol=min(6, len(seen)),
                   frameon=False, fontsize=8, bbox_to_anchor=(0.5, 1 - 0.42 / height))
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.55 / height))
        return save(fig, out, f"scenario-{slug(case)}"), ""


def cases(sc: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table_rows(sc)["case"]))


def summary_rows(sc: pd.DataFrame) -> tuple[list[str], list[list[Cell]], list[str]]:
    """Headers, rows and each row's mode, for the 'what happens' table."""
    head = ["scenario", "backend", "mode", "workload", "outcome", "blind (ms)",
            "kill→ready (ms)", "lost / expected", "workload held (ms)", "caught up (ms)",
            "own loss counter", "noticed", "what happened", "in the kernel while down",
            "left behind"]
    rows, modes = [], []
    for _, r in table_rows(sc).iterrows():
        if r.get("outcome") == "unsupported":
            continue   # listed apart (not_applicable)
        lost = r.get("events_lost")
        exp = r.get("events_expected")
        own = r.get("self_reported_lost")
        rows.append([
            str(r["case"]), backend(r["spec"]), str(r["mode"]), str(r.get("workload_spec", "")),
            str(r.get("outcome", "")) + (f" ({r['reason']})" if _s(r.get("reason")) else ""),
            ms(r.get("blind_ms")),
            ms(r.get("down_ms")) if r.get("crashed") is True else fmt.DASH,
            f"{int(lost)} / {int(exp)}" if _num(lost) and _num(exp) else fmt.DASH,
            ms(r.get("workload_stall_ms")), ms(r.get("recovered_ms")),
            Num(own, 0) if _num(own) else fmt.DASH,
            _noticed(r), _happened(r),
            _s(r.get("kernel_while_down")) or fmt.DASH,
            _s(r.get("leftovers")) or "nothing",
        ])
        modes.append(str(r["mode"]))
    return head, rows, modes


def not_applicable(sc: pd.DataFrame) -> str:
    """One sentence per reason: which (case, backend) pairs did not run, and why."""
    rows = table_rows(sc)
    rows = rows[rows["outcome"] == "unsupported"]
    if not len(rows):
        return ""
    by_reason: dict[str, list[str]] = {}
    for _, r in rows.iterrows():
        by_reason.setdefault(_s(r.get("reason")) or "?", []).append(f"{r['case']} on {r['spec']}")
    return "Not applicable: " + "; ".join(f"{', '.join(w)} ({why})"
                                          for why, w in by_reason.items()) + "."


def _noticed(r) -> str:
    """Tamper only: whether the sensor noticed, and whether the attempt is in its output."""
    if _s(r.get("scenario")) != "tamper" or _s(r.get("status")) != "ok":
        return fmt.DASH
    if r.get("recorded") is True:
        return "recorded"
    return "detected" if r.get("detected") is True else "no"


def _happened(r, width: int = 140) -> str:
    """What the fault did, and what the sensor, kernel or tool said of it."""
    parts = [_s(r.get("action"))]
    if _s(r.get("update")):
        parts.append(f"{r['update']}: {_s(r.get('update_detail'))}")
    if _s(r.get("canary")):
        parts.append(f"canary {_s(r.get('canary'))}")
    if _s(r.get("tamper_seen")):
        parts.append(f"sensor saw: {_s(r.get('tamper_seen'))}")
    text = "; ".join(p for p in parts if p)
    return (text[: width - 1] + "…") if len(text) > width else (text or fmt.DASH)


def _s(v) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA \
        else str(v)


def _num(v) -> bool:
    try:
        return not np.isnan(float(v))
    except (TypeError, ValueError):
        return False
