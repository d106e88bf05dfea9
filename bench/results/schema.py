"""Every table's schema, declared once: the columns of ``cells.parquet``/``cells.csv``,
``events.parquet``, ``scenarios.parquet`` and ``timeline.parquet``, with their types, in
the order the tables have them, and what each cells and scenarios column means.

The store (``bench.results.store``) orders and types every table it writes by these
declarations, and the readers read the columns declared here. ``DOCS`` is the column table
of docs/methodology.md ("What is measured"), which ``python -m bench.results.schema``
prints and a test keeps equal to the page. A column a row carries that is not declared
here is an error of the code that made the row, caught by the tests (``undeclared``).

The cells table declares two sorts of column: what a run measured, which the store writes,
and the estimates over paired blocks (``computed``), which are never stored: the read model
computes them when it reads a folder (``bench.results.estimates``). Folders written before
that carry them in their rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.analysis.bursts import COLUMNS as BURST_COLUMNS
from bench.analysis.metrics import LATENCY_COLUMNS
from bench.harness.accounting import IDLE_S, IDLE_WINDOWS
from bench.analysis.timeline import STALL_LIMIT_MS


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str   # pandas dtype: "string", "Int64" (nullable), "boolean", "float64", "int64"...
    computed: bool = False   # an estimate over blocks, computed when the folder is read


def _cols(dtype: str, *names: str) -> list[Column]:
    return [Column(n, dtype) for n in names]


def _est(dtype: str, *names: str) -> list[Column]:
    return [Column(n, dtype, computed=True) for n in names]


# string, nullable integer (N: "I" reads as a 1 or an l), boolean, float
S, N, B, F = "string", "Int64", "boolean", "float64"

# In table order: first the promised columns (the cells.csv contract, as read), in their
# order; then the paired blocks, the CPU readings, and the rest.
COLUMNS: tuple[Column, ...] = tuple([
    *_cols(S, "backend", "spec", "mode", "mechanism", "workload", "kind", "rate_target"),
    *_cols(F, "rate_achieved"), *_cols(N, "repeat"), *_cols(S, "status", "reason"),
    *_cols(N, "expected", "matched"), *_cols(F, "drop_rate"),
    *_cols(N, "duplicates", "unmatched", "self_reported_lost"),
    *_cols(F, *LATENCY_COLUMNS, "sensor_cpu_pct", "cpu_us_per_event", "kernel_ns_per_event"),
    *_est(F, "slowdown_pct", "slowdown_ci_low_pct", "slowdown_ci_high_pct"),
    *_cols(F, "sensor_rss_mb"), *_est(S, "saturation"),
    # paired blocks (bench.analysis.blocks): what each cell measured, then the estimates
    *_est(F, "overhead_ns_per_op", "overhead_ci_low_ns", "overhead_ci_high_ns"),
    *_est(N, "blocks_used", "blocks_dropped"), *_cols(S, "block", "baseline_cell"),
    *_cols(F, "op_time_ns"), *_est(F, "block_overhead_ns"),
    *_cols(F, "schedule_lag_growth_ms"),
    *_est(F, "machine_cpu_us_per_op", "machine_cpu_ci_low_us", "machine_cpu_ci_high_us",
          "workload_cpu_added_us_per_op", "workload_cpu_added_ci_low_us",
          "workload_cpu_added_ci_high_us",
          "rate_ratio", "rate_ratio_ci_high", "lag_growth_added_ms",
          "lag_growth_added_ci_low_ms"),
    # CPU readings of the cell (bench.harness.accounting)
    *_cols(F, "sensor_idle_cpu_pct", "sensor_idle_cpu_se_pct", "sensor_marginal_us_per_event",
           "sensor_marginal_ci_low_us", "sensor_marginal_ci_high_us", "sensor_startup_cpu_s",
           "adapter_cpu_s"), *_cols(S, "sensor_cpu_source"),
    *_cols(F, "workload_cpu_us_per_op", "machine_busy_us_per_op", "machine_user_us_per_op",
           "machine_system_us_per_op", "machine_irq_us_per_op", "machine_steal_us_per_op",
           "machine_steal_pct"), *_cols(S, "machine_cpu_source"),
    # the rest
    *_cols(S, "match_key"),
    *_cols(F, "latency_intended_p50_us", "latency_intended_p99_us", "delivery_p50_us",
           "delivery_p99_us", "counter_gap"), *_cols(N, "unmatched_other_kinds", "events_total"),
    *_cols(S, "latency_hist"), *_cols(N, "latency_out_of_range"),
    *_cols(F, "sensor_cpu_s", "helper_cpu_s", "parse_errors", "workload_cpu_pct"),
    *_cols(N, "ops", "workload_errors"), *_cols(F, "duration_s"), *_cols(B, "drained", "cgroup"),
    *_cols(S, "workload_engine"), *_cols(N, "workload_threads"), *_cols(S, "workdir_fs"),
    # an application recipe's counted truth (bench.harness.counter)
    *_cols(N, "counted_unpaired", "counted_pids", "counted_pids_full"),
    # a burst cell's (bench.analysis.bursts)
    *_cols(N, "bursts"), *_cols(F, *BURST_COLUMNS[1:]),
    *_cols(S, "marker", "cell", "workload_spec", "arrivals", "scenario"),
])
NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
# what a run stores (the store writes these), and what the read model computes
STORED: tuple[str, ...] = tuple(c.name for c in COLUMNS if not c.computed)
ESTIMATES: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.computed)
# the promised columns (the cells.csv contract, as ``RunData`` reads it), in their order
CELL_COLUMNS: tuple[str, ...] = NAMES[:NAMES.index("saturation") + 1]
# What ``merge`` adds to every table: the machine a row was measured on, the run it belongs
# to (a cell's id is unique within its run only), the input folder and the machine facts
# that move results.
MERGED: tuple[Column, ...] = (*_cols(S, "host", "run", "source", "kernel", "cpu_model"),
                              Column("cpu_logical", N))
DTYPES: dict[str, str] = {c.name: c.dtype for c in (*COLUMNS, *MERGED)}

# What each column means: one row of the docs' column table per entry (columns that are
# read together share one), in the order the table shows them.
DOCS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("cell", "backend", "spec", "mode", "mechanism"),
     "the cell's id; the backend, its spec with settings (`name:key=value,...`), its mode "
     "(kernel, user, calibration; `none` for the baseline cells, which run no sensor) and mechanism"),
    (("workload", "workload_spec", "kind", "rate_target", "arrivals", "repeat", "marker"),
     "the workload, with its settings; the event kind of the row; the offered rate (ops/s, "
     "or `max` for closed loop) and the arrival process; the repetition (the block); the run "
     "marker every path and argv of the cell carries"),
    (("scenario",),
     "a failure-scenario cell's fault and case (`crash`, `stall`, `bad-update:rules`, ...; "
     "see `scenarios.csv`), empty "
     "for a normal cell: its drops and latencies are those of a sensor that failed"),
    (("status", "reason"),
     "`ok`, `unsupported` (the backend cannot see this kind: not a 100 % drop), `failed` or "
     "`skipped`, and why"),
    (("expected", "matched"),
     "ground-truth events, and those the backend reported (joined on kind + key)"),
    (("drop_rate",),
     "`(expected - matched) / expected`; kinds the backend cannot see are `unsupported`, "
     "not 100 % drops"),
    (("match_key",),
     "the key events of the kind were joined on: `full` (path, pid or port pair), or a "
     "partial key the backend declares because its events carry only part of the key, with "
     "its window (audit: `pid + server port` for connects, whose SOCKADDR names no client "
     "port; `path, opened for write before the write` for writes, which name no path). "
     "Under a partial key the events of one key, in order, each take the earliest operation "
     "not yet matched that the window admits, and operations passed over are drops; a "
     "dropped operation inside the next event's window takes that event instead (the drop "
     "still counts). `untimed`: the event may come before its operation, so it counts for "
     "drops but has no `latency_*` (`delivery_*` is the event's own and stays), nor rows in "
     "`events.parquet`. Empty for an unsupported kind"),
    (("duplicates", "unmatched", "unmatched_other_kinds", "events_total"),
     "extra reports of an already matched event; reports carrying our run marker that match "
     "nothing; marker-carrying reports of kinds the workload did not expect; every event the "
     "backend reported in the cell"),
    (("self_reported_lost",),
     "the backend's own loss counter for the cell, where it has one (compare with the drop "
     "rate)"),
    (BURST_COLUMNS,
     "a cell run with `--arrivals burst:...`: its bursts; the share of a burst's operations "
     "(of the kinds the backend supports) no event was matched to, the worst burst's and "
     "over all; from a burst's end to the last of its events seen (ms, median and worst "
     "over the bursts: the backlog draining); p99 latency of the operations in the base "
     "stretch after a burst (median over the bursts) and before the first one"),
    (("counted_unpaired", "counted_pids", "counted_pids_full"),
     "an application recipe's cell (`copy`, `build`, `cmd`, ...), whose `expected` is "
     "counted in the kernel per kind for the workload's cgroup: system calls whose exit "
     "found another's entry waiting (a count may be short; 0 in a sound cell); the "
     "processes that ran in the cgroup, by which the sensor's events are matched to the "
     "cell (with a path under the cell's directory); processes the full set had no room "
     "for (0 in a sound cell). `matched` is then the cell's events of the kind, "
     "`duplicates` those beyond the count, and `match_key` `cell`"),
    (("counter_gap",),
     "events the ground truth says were missed minus `self_reported_lost`: above 0, losses "
     "the backend's own counter did not see (counters count in their own units: audit in "
     "records, the eBPF ring machine-wide)"),
    (tuple(LATENCY_COLUMNS),
     "`t_seen - t_issue`: from just before the syscall to the decoded event in the sensor's "
     "hands (CLOCK_MONOTONIC)"),
    (("latency_hist", "latency_out_of_range"),
     "the cell's `t_seen - t_issue` latencies of the kind, every one of them, as an "
     "HdrHistogram (ns, 1 ns to 1 hour, 3 significant digits: each latency known to 0.05 %) "
     "in HdrHistogram's own encoding (V2, compressed, base64), which any HdrHistogram "
     "library reads: histograms of cells add, and the percentiles of repetitions, runs or "
     "machines together are read off their sum; and how many latencies fell outside that "
     "range, recorded at its nearest end (0 in a sound cell)"),
    (("latency_intended_p50_us", "latency_intended_p99_us"),
     "`t_seen - t_intended`: open-loop view, includes time the workload itself was held up"),
    (("delivery_p50_us", "delivery_p99_us"),
     "`t_seen - t_kernel`, where the backend has a kernel timestamp"),
    (("sensor_cpu_pct", "sensor_cpu_s", "cpu_us_per_event", "sensor_cpu_source"),
     "the sensor's CPU from the workload's first operation to the end of its drain, as % of "
     "one core, seconds, and per matched event. Read from the sensor's own cgroup (µs of "
     "scheduler runtime; `sensor_cpu_source` says `cgroup`), else from its process tree "
     "(clock ticks). For a third-party tool it is the **tool's** CPU only (`cgroup (tool)`)"),
    (("sensor_idle_cpu_pct", "sensor_idle_cpu_se_pct"),
     f"the sensor's fixed cost: its CPU as % of one core during {IDLE_S:g} s after the "
     f"drain, with nothing to do and nobody asking (a polling sensor polls), read as "
     f"{IDLE_WINDOWS} sub-windows; and the standard error of that rate, from how the "
     "sub-windows differ"),
    (("sensor_marginal_us_per_event", "sensor_marginal_ci_low_us",
      "sensor_marginal_ci_high_us"),
     "the rest of its CPU per matched event: `(sensor_cpu_s − idle × time) / matched`, and "
     "its 95 % interval: the idle rate's noise scaled to the cell, plus the CPU readings' "
     "resolution. At low rates `cpu_us_per_event` is mostly fixed cost; this is not. An "
     "interval that holds zero is *not resolved*: the point may then be below zero, and "
     "reports show no number"),
    (("sensor_startup_cpu_s",),
     "CPU the sensor used from its start until the workload began (loading programs, a tool "
     "compiling its script): a cost of its own, outside the cell"),
    (("adapter_cpu_s",),
     "for third-party tools: what our adapter spent reading and parsing the tool's output. "
     "Never part of the tool's cost"),
    (("helper_cpu_s", "parse_errors"),
     "CPU of kernel-side helpers outside the sensor's process tree (kauditd); records or "
     "lines the sensor could not decode"),
    (("workload_cpu_us_per_op", "workload_cpu_pct"),
     "the workload cgroup's CPU per operation over its run (in-context costs land here: BPF "
     "programs, audit records built in the syscall, fsnotify), and as % of one core"),
    (("machine_busy_us_per_op", "machine_cpu_source"),
     "the whole machine's busy CPU per operation over the workload's run (every process, "
     "kernel threads such as kauditd, irq, softirq), plus the sensor's CPU during its drain, "
     "minus our adapter's. Busy time is wall time minus cpuidle residency per CPU, in µs "
     "(`machine_cpu_source` `cpuidle`), or /proc/stat ticks where cpuidle is missing; time "
     "the hypervisor stole while a vCPU wanted to run counts as busy"),
    (("machine_user_us_per_op", "machine_system_us_per_op", "machine_irq_us_per_op",
      "machine_steal_us_per_op", "machine_steal_pct"),
     "the /proc/stat split of the same window (10 ms ticks: coarse), and the share of CPU "
     "time the hypervisor stole (a warning above 5 %)"),
    (("machine_cpu_us_per_op", "machine_cpu_ci_low_us", "machine_cpu_ci_high_us"),
     "**the total cost of sensing**: mean over blocks of (sensor cell − its baseline cell) "
     "`machine_busy_us_per_op`, 95 % t-interval over blocks. The fair kernel-vs-user "
     "comparison: it counts what the sensor costs wherever it lands"),
    (("workload_cpu_added_us_per_op", "workload_cpu_added_ci_low_us",
      "workload_cpu_added_ci_high_us"),
     "the same paired difference of `workload_cpu_us_per_op`: CPU the sensor adds inside "
     "the workload's own context"),
    (("kernel_ns_per_event",),
     "in-kernel cost per event: the run time of all the sensor's eBPF programs (bpf_stats) "
     "over the events they emitted (its own and, without an in-kernel filter, the "
     "machine's), where measurable"),
    (("overhead_ns_per_op", "overhead_ci_low_ns", "overhead_ci_high_ns"),
     "time the sensor adds to each operation: mean over blocks of (sensor cell − its "
     "baseline cell) mean time per operation (service time in open loop, inter-op time in "
     "closed loop), 95 % t-interval over blocks; the primary cost number"),
    (("slowdown_pct", "slowdown_ci_low_pct", "slowdown_ci_high_pct"),
     "the same as a ratio: geometric mean of the blocks' ratios, t-interval on the log "
     "ratios"),
    (("blocks_used", "blocks_dropped", "block", "baseline_cell", "op_time_ns",
      "block_overhead_ns"),
     "blocks in the estimate, blocks left out (a cell failed or held under 100 operations), "
     "this cell's block, the baseline cell it is paired with, the cell's mean time per "
     "operation (ns; empty under 100 operations), and its block's own difference"),
    (("rate_achieved", "rate_ratio", "rate_ratio_ci_high"),
     "the rate the workload achieved (ops/s), and over the blocks its ratio to the "
     "baselines' with the upper end of its 95 % interval (what `behind` judges)"),
    (("schedule_lag_growth_ms", "lag_growth_added_ms", "lag_growth_added_ci_low_ms"),
     "how much further behind its open-loop schedule the workload was at the end of the "
     "cell than at its start (queueing, backpressure); over the blocks, that growth beyond "
     "the baselines', with the lower end of its 95 % interval (what `queues` judges)"),
    (("saturation",),
     "which limits the cell hit, '' when it kept up: `drops` (> 0.1 % of a kind), `behind` "
     "(achieved < 95 % of the target while its baseline was not), `queues` (schedule lag "
     "grew > 20 ms more than its baseline's), `slows` (overhead interval wholly above "
     "`--overhead-limit`). Overhead below that is a cost, not saturation"),
    (("sensor_rss_mb",),
     "resident memory of the sensor's process tree at the end of the cell"),
    (("host", "run", "source", "kernel", "cpu_model", "cpu_logical"),
     "in a merged folder (`sensorbench merge`): the machine the row was measured on, the "
     "run it belongs to (`run_id` of its `meta.json`: a cell's id names it within its run "
     "only), the folder it came from and that machine's kernel, CPU model and CPU count"),
    (("ops", "workload_errors", "duration_s", "drained", "cgroup"),
     "operations the workload issued and those that failed; the cell's length (s); whether "
     "the sensor's event count settled before it was stopped; whether the workload ran in "
     "a cgroup of its own"),
    (("workload_engine", "workload_threads", "workdir_fs"),
     "the engine that issued the operations (`native`: `sb-load`, C; `python`: the "
     "reference) and its threads; the file system type of the cell's work directory "
     "(`ext4`, `tmpfs`, ...: what file operations cost depends on it)"),
)


def undeclared(columns, dtypes: dict[str, str] | None = None) -> list[str]:
    """Columns of a table that its schema (``dtypes``; the cells table's by default) does
    not declare."""
    return [c for c in columns if c not in (DTYPES if dtypes is None else dtypes)]


# The failure scenarios' table (``scenarios.parquet``/``.csv``, one row per scenario x
# backend x case; bench.scenario), and its timeline (``timeline.parquet``, one row per
# 10 ms of each scenario cell; bench.analysis.timeline).
SCENARIO_COLUMNS: tuple[Column, ...] = tuple([
    *_cols(S, "scenario", "case", "backend", "spec", "mode", "mechanism", "workload_spec",
           "rate_target", "outcome", "status", "reason", "target"),
    *_cols(F, "blind_ms", "down_ms", "exit_ms", "fault_at_ms", "back_at_ms"),
    *_cols(N, "ops_in_window", "events_expected", "events_lost", "events_lost_in_window",
           "self_reported_lost"),
    *_cols(F, "workload_stall_ms", "recovered_ms", "window_latency_max_ms",
           "latency_p50_before_ms"),
    *_cols(B, "crashed"), *_cols(S, "update", "update_detail", "canary"),
    *_cols(S, "technique", "action"), *_cols(B, "detected", "recorded"), *_cols(S, "tamper_seen"),
    *_cols(S, "kernel_while_down", "leftovers"),
    *_cols(F, "duration_s", "at_s", "for_s", "restart_ms"), *_cols(S, "cell"),
])
SCENARIO_DTYPES: dict[str, str] = {c.name: c.dtype for c in (*SCENARIO_COLUMNS, *MERGED)}
# Counts of every 10 ms, never missing: plain int64 (tens of thousands of rows).
TIMELINE_COLUMNS: tuple[Column, ...] = tuple([
    *_cols(S, "cell", "spec", "case"), *_cols("int64", "t_ms", "intended", "issued",
                                              "expected", "observed", "seen"),
    *_cols(F, "lag_ms"), *_cols(S, "state"),
])
TIMELINE_DTYPES: dict[str, str] = {c.name: c.dtype for c in (*TIMELINE_COLUMNS, *MERGED)}

# The per-event latencies (``events.parquet``, one row per matched event whose latency is
# timed, a uniform sample of at most ``store.EVENTS_PER_CELL`` per cell; bench.harness.cell):
# the cell and its coordinates, the kind, the operation and its three latencies in ns
# (``delivery_ns`` -1 where the backend has no kernel time). Millions of rows: numpy types,
# the kind as a category.
EVENT_COLUMNS: tuple[Column, ...] = tuple([
    *_cols(S, "cell", "backend", "spec", "mode", "workload", "workload_spec", "rate_target"),
    *_cols("int64", "repeat"), *_cols("category", "kind"),
    *_cols("int64", "op", "latency_ns", "latency_intended_ns", "delivery_ns"),
])
EVENT_DTYPES: dict[str, str] = {c.name: c.dtype for c in (*EVENT_COLUMNS, *MERGED)}
# What a reader of latencies needs of it (``RunData``): the series' coordinates, the kind
# and the latency; the rest stays on disk.
EVENT_LATENCY: tuple[str, ...] = ("spec", "workload_spec", "rate_target", "repeat", "kind",
                                  "latency_ns")
SCENARIO_DOCS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("scenario", "case", "backend", "spec", "mode", "mechanism", "workload_spec",
      "rate_target"),
     "the fault (`crash`, `stall`, `bad-update`, `tamper`) and its case "
     "(`bad-update:rules`, `bad-update:program`, `:canary`, `tamper:kill`, ...); the sensor "
     "and the workload, as in cells"),
    (("outcome", "status", "reason"),
     "`no-loss`, `degraded` (kept running, lost events), `sensor-crashed` (the host was "
     "fine; see `blind_ms`), `host-impact` (the workload was held up past "
     f"`workload_stall_ms` {STALL_LIMIT_MS:g} ms, or failed; not judged for a flood, "
     "which loads the machine itself), `refused` (a bad update refused, nothing "
     "lost); `failed` / `unsupported` with `status` and `reason`"),
    (("target",),
     "what the fault hit: `consumer` (our sensor's process) or `tool` (a real tool's "
     "processes, not our adapter)"),
    (("blind_ms",),
     "read off the events: the stretch of issue time, from the fault on, whose expected "
     "events were never seen (last seen operation before the hole to the first after it)"),
    (("down_ms", "exit_ms", "fault_at_ms", "back_at_ms"),
     "the harness's clock: kill to ready again (crash), of which kill to the killed "
     "processes all gone (a process holding BPF links exits only once the kernel has "
     "detached them); when the fault hit and when the sensor was collecting again, from "
     "the first operation"),
    (("ops_in_window", "events_expected", "events_lost", "events_lost_in_window",
      "self_reported_lost"),
     "operations issued while the sensor was down or stopped; expected events of the cell, "
     "those never seen, those of them issued in the window; the sensor's own loss counter"),
    (("workload_stall_ms",),
     "how much further behind its schedule the workload got during the fault than at worst "
     "before it (`t_done - t_intended`): a syscall made to wait for the sensor"),
    (("recovered_ms", "window_latency_max_ms", "latency_p50_before_ms"),
     "catching up: from the sensor being back to the last event of an operation issued "
     "before that; the worst latency of the window's events, against the p50 before"),
    (("crashed", "kernel_while_down"),
     "whether the sensor process died; what of it stayed in the kernel while no consumer "
     "ran (audit rules keep costing every syscall they match; BPF programs go with their fds)"),
    (("update", "update_detail", "canary"),
     "bad-update: what became of the malformed update (`refused`, `applied`, `crashed`) and "
     "what the sensor, the verifier, the kernel or the tool said; with `--canary`, whether "
     "the canary passed its health check or halted the rollout"),
    (("technique", "action", "detected", "recorded", "tamper_seen"),
     "tamper: the technique and what it did (`bpftool` and `auditctl` quoted, the flood's "
     "rate); whether the sensor noticed and said so (an event, its loss counter), whether "
     "the attempt itself is in its output as a kernel event (audit's CONFIG_CHANGE records, "
     "the eBPF sensor's kill/ptrace/bpf() guards), and what it said"),
    (("leftovers",),
     "what of ours was left on the machine after the scenario was undone (must be empty)"),
    (("duration_s", "at_s", "for_s", "restart_ms", "cell"),
     "the schedule: cell length, fault time, stall length, the supervisor's restart delay; "
     "the cell's id in `cells.csv` and `timeline.parquet`"),
)


def markdown(docs=None) -> str:
    """The docs' column table (``docs``: another table's, e.g. ``SCENARIO_DOCS``). A
    column the read model computes (an estimate over blocks) is marked †."""
    lines = ["| column | meaning |", "|---|---|"]
    for names, doc in docs or DOCS:
        cols = ", ".join(f"`{n}`" + ("†" if n in ESTIMATES else "") for n in names)
        lines.append(f"| {cols} | {doc} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    print(markdown(SCENARIO_DOCS if sys.argv[1:] == ["scenarios"] else None), end="")
