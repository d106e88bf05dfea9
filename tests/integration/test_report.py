"""The report: charts from real runs, max sustainable rate, report.html in a real browser."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import struct

import pandas as pd
import pytest

from bench.publish import generate
from bench.report.present import cell_text
from bench.results.rundata import RunData
from bench.results.store import ResultsDir
from tests.helpers import cli_in_process, sensorbench
from tests.helpers.report_runs import copy, results


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def sweep():
    """A real two-backend, two-rate run; `run` itself wrote the report at its end."""
    return results("sweep")


def test_run_writes_report_charts_and_exports(sweep):
    for name in ("report.html", "pytest-benchmark.json", "github-benchmark.json"):
        assert (sweep / name).stat().st_size > 0, name
    charts = {p.name for p in (sweep / "charts").iterdir()}
    expected = {"coverage", "sustainable", "saturation-network", "ecdf-network-300",
                "ecdf-network-1500", "cpu-network", "slowdown-network"}
    for stem in expected:
        assert f"{stem}.png" in charts and f"{stem}.svg" in charts, stem
    for p in (sweep / "charts").glob("*.png"):
        w, h = png_size(p.read_bytes())
        assert w >= 600 and h >= 250, f"{p.name} is {w}x{h}: too small for a slide"
    cells = RunData.load(sweep).raw
    if cells["machine_cpu_us_per_op"].notna().any():
        assert "overview.png" in charts and "overview.svg" in charts


def test_report_command_is_self_contained(sweep, tmp_path):
    d = copy("sweep", tmp_path / "r")
    (d / "report.html").unlink()
    r = cli_in_process("report", str(d), check=True)
    assert "report:" in r.stdout
    text = (d / "report.html").read_text()
    # No scripts, no external fetches: every src is a data URI, links only to local SVGs.
    assert "<script" not in text
    srcs = re.findall(r'src="([^"]+)"', text)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r'(src|href)="(https?:)?//', text)
    for s in srcs:
        png_size(base64.b64decode(s.split(",", 1)[1]))
    run = RunData.load(d)
    # Every backend, its settings, the machine and its warnings are in the report.
    for spec, b in run.meta["backends"].items():
        assert spec in text
        for k, v in b["settings"].items():
            assert f"{k}={v}" in text
    assert run.meta["machine"]["kernel"] in text
    for w in run.meta["warnings"]:
        assert html.escape(w) in text
    # The per-kind table shows the numbers from the data, e.g. the synthetic backend's
    # matched count for one kind.
    k = run.kinds
    row = k[(k["backend"] == "synthetic") & (k["status"] == "ok")].iloc[0]
    assert f">{row['matched']:,}<" in text


def test_numbers_agree_with_raw_events():
    """Pooled percentiles are those of the raw events of all repeats (read off the sum of
    the repeats' histograms, within their precision), not averaged from the per-repeat
    values; drops are pooled. Two repeats, so the two can differ."""
    from bench.analysis.latency_hist import PRECISION

    folder = results("same_a")
    run = RunData.load(folder)
    ev = pd.read_parquet(folder / "events.parquet")
    cells = pd.read_parquet(folder / "cells.parquet")
    k = run.kinds
    told_apart = 0
    for _, row in k[(k["status"] == "ok") & (k["matched"] > 0)].iterrows():
        raw = ev[(ev["spec"] == row["spec"]) & (ev["rate_target"] == row["rate_target"])
                 & (ev["kind"].astype(str) == row["kind"])]
        assert raw["repeat"].nunique() == 2
        lat = raw["latency_ns"] / 1e3
        assert row["latency_p99_us"] == pytest.approx(lat.quantile(0.99), rel=PRECISION)
        c = cells[(cells["spec"] == row["spec"]) & (cells["rate_target"] == row["rate_target"])
                  & (cells["kind"] == row["kind"])]
        assert len(c) == 2
        per_repeat = c["latency_p99_us"].astype(float)
        if abs(row["latency_p99_us"] - per_repeat.mean()) > 1e-6 * per_repeat.mean():
            told_apart += 1
        assert row["expected"] == c["expected"].sum()
        assert row["drop_rate"] == pytest.approx(1 - c["matched"].sum() / c["expected"].sum())
    assert told_apart, "pooled and averaged p99 coincide for every kind: nothing was shown"


def test_single_rate_gets_no_saturation_curve(tmp_path):
    """A folder with one offered rate: no saturation chart, and the report says why."""
    d = copy("sweep", tmp_path / "one")
    cells = pd.read_parquet(d / "cells.parquet")
    cells[cells["rate_target"] == "300"].to_parquet(d / "cells.parquet", index=False)
    ev = pd.read_parquet(d / "events.parquet")
    ev[ev["rate_target"] == "300"].to_parquet(d / "events.parquet", index=False)
    g = generate(d)
    names = {p.stem for p in g.charts}
    assert "saturation-network" not in names and "sustainable" not in names
    assert "ecdf-network-300" in names and "ecdf-network-1500" not in names
    text = g.report.read_text()
    assert "one offered rate only" in text and "no max sustainable rate" in text


def test_report_failure_keeps_results(sweep, tmp_path, monkeypatch, capsys):
    """A report that cannot be written is a warning after `run`, never a lost run."""
    from bench import cli, publish

    def boom(path, exports=True):
        raise RuntimeError("disk full")

    monkeypatch.setattr(publish, "generate", boom)
    before = (sweep / "cells.parquet").read_bytes()
    capsys.readouterr()
    cli._report_quietly(sweep)   # must not raise
    err = capsys.readouterr().err
    assert "report not written" in err and "disk full" in err, err
    assert f"sensorbench report {sweep}" in " ".join(err.split()), err
    assert (sweep / "cells.parquet").read_bytes() == before


def test_report_bad_folder_is_one_line(tmp_path):
    r = cli_in_process("report", str(tmp_path / "nope"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "not a results folder" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def chromium() -> str:
    """The system's Chromium, which Playwright drives (it downloads no browser here)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.skip("chromium not installed (Debian package `chromium`; `make setup` as root "
                    "installs it)")
    return exe


def render(exe: str, url: str, shot) -> tuple[list[dict], str, list[str]]:
    """Load ``url`` in headless Chromium ``exe``, 1300 px wide, and return its images, its
    title and its problems: console errors and warnings (Chromium's own log entries, such as
    a resource that failed to load, come as console messages too), uncaught exceptions, and
    any request that left the file (a self-contained report fetches nothing). The whole page
    is saved to ``shot``."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []

    def console(m):
        if m.type in ("error", "warning", "assert"):
            problems.append(f"console.{m.type}: {m.text}")

    def request(r):
        if not r.url.startswith(("data:", "file:", "about:")):
            problems.append(f"network request: {r.url}")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("console", console)
            page.on("pageerror", lambda e: problems.append(f"exception: {e}"))
            page.on("request", request)
            page.on("requestfailed", lambda r: problems.append(f"load failed: {r.url} "
                                                               f"{r.failure}"))
            page.goto(url, wait_until="load")
            imgs = page.evaluate("[...document.images].map(i => ({alt: i.alt, complete: "
                                 "i.complete, w: i.naturalWidth, h: i.naturalHeight}))")
            title = page.title()
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    return imgs, title, problems


BROKEN_PAGE = """<!doctype html><title>broken</title>
<img src="http://127.0.0.1:9/chart.png">
<script>console.error("boom"); console.warn("careful"); noSuchFunction();</script>"""


def test_render_reports_what_goes_wrong(chromium, tmp_path):
    """The browser check can fail: a console error and warning, an uncaught exception and a
    fetch from outside the file are each reported. (Port 9 is one Chromium refuses to
    connect to, so the fetch never leaves the machine.)"""
    page = tmp_path / "broken.html"
    page.write_text(BROKEN_PAGE)
    imgs, title, problems = render(chromium, page.as_uri(), tmp_path / "broken.png")
    text = "\n".join(problems)
    for expected in ("console.error: boom", "console.warning: careful",
                     "exception: noSuchFunction is not defined",
                     "network request: http://127.0.0.1:9/chart.png", "load failed: "):
        assert expected in text, f"not reported: {expected}\n{text}"
    assert title == "broken" and len(imgs) == 1 and imgs[0]["w"] == 0


def test_report_renders_in_headless_chromium(chromium, sweep, tmp_path):
    """The report loads in a real browser with no console error, no network request, and
    every chart image decoded; the screenshot is kept next to the test's temp files."""
    shot = tmp_path / "report.png"
    imgs, title, problems = render(chromium, (sweep / "report.html").resolve().as_uri(), shot)
    assert problems == [], problems
    n_png = len(list((sweep / "charts").glob("*.png")))
    assert len(imgs) == n_png, "every chart is in the report"
    broken = [i for i in imgs if not i["complete"] or i["w"] < 100 or i["h"] < 100]
    assert broken == [], f"images that did not render: {json.dumps(broken)}"
    assert "sensorbench report" in title
    w, h = png_size(shot.read_bytes())
    assert w >= 1000 and h > 2000, "the screenshot shows the whole page"
    # ...and stays light enough to mail and to publish: every chart it embeds is an 8-bit
    # palette PNG (IHDR: bit depth 8, colour type 3), none heavier than a photo would be
    text = (sweep / "report.html").read_text()
    for src in re.findall(r'src="data:image/png;base64,([^"]+)"', text):
        data = base64.b64decode(src)
        assert data[24:26] == b"\x08\x03" and len(data) < 150_000, (data[24:26], len(data))


def test_published_report_is_at_most_2_mb():
    """The reference report (a searched run of 25 backends, 1700 cells) as `make
    reference` publishes it."""
    from tests.helpers import ROOT

    page = ROOT / "results" / "reference" / "report.html"
    assert page.stat().st_size <= 2_000_000, page.stat().st_size


def test_markdown_page_links_existing_charts(sweep, tmp_path):
    """The page `make reference` writes as results/README.md: tables and charts that exist."""
    d = copy("sweep", tmp_path / "run")
    page = tmp_path / "README.md"
    r = cli_in_process("report", str(d), "--markdown", str(page), "--command", "make reference",
                    "--no-exports", check=True)
    assert "markdown:" in r.stdout
    text = page.read_text()
    assert "`make reference`" in text and "## Max sustainable rate" in text
    assert "| `synthetic` | calibration |" in text and "| `psutil` | user |" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links and all((page.parent / link).is_file() for link in links)
    assert any("saturation-network.png" in link for link in links)
    if (d / "charts" / "overview.png").exists():   # runs that measured machine CPU
        assert links[0].endswith("charts/overview.png")
    # what the machine could resolve, read from the run's A/A control: one row per rate
    # with the half-width of its interval
    rows = [ln for ln in text.splitlines() if ln.startswith("| `null_sensor` | network |")]
    assert "## What this machine could resolve" in text and len(rows) == 2, text
    assert all(re.search(r"\| [+-]\d+\.\d\d ± \d+\.\d\d \|", ln) for ln in rows), rows


# -- the overview chart: cost vs loss vs lateness at a glance ------------------------------
NAN = float("nan")
# series -> mode, {workload: (machine CPU µs/op, CI low, CI high, drop rate, p99 µs) at the
# headline rate, or "unsupported"}. psutil has no cost estimate; fanotify sees no process
# kind (but, like the null sensor, has a cost).
OVERVIEW = {
    "ebpf": ("kernel", {"file": (1.5, 1.25, 1.75, 0.0, 40.0),
                        "process": (12.0, 10.5, 13.5, 0.0005, 60.0)}),
    "audit": ("user", {"file": (9.0, 7.5, 10.5, 0.02, 900.0),
                       "process": (30.0, 25.0, 35.0, 0.0, 2500.0)}),
    "fanotify": ("user", {"file": (3.0, 2.0, 4.0, 0.0, 150.0), "process": "unsupported"}),
    "synthetic": ("calibration", {"file": (0.25, -0.5, 1.0, 0.25, 500.0),
                                  "process": (-0.125, -0.5, 0.25, 0.25, 500.0)}),
    "psutil": ("user", {"file": (NAN, NAN, NAN, 0.5, 100000.0),
                        "process": (NAN, NAN, NAN, 0.75, 200000.0)}),
}
OVERVIEW_KIND = {"file": "file_create", "process": "proc_exec"}


def _overview_folder(path, machine_cpu=True, rates=("100", "1000", "10000")):
    """A results folder of 5 backends x 2 workloads x 3 rates (one kind, one repeat each)
    whose middle rate carries the values of OVERVIEW; the other rates carry ten times the
    cost and latency, so a chart at the wrong rate shows wrong numbers."""
    rows = []
    for w, kind in OVERVIEW_KIND.items():
        for rate in rates:
            k = 1 if rate == "1000" else 10
            rows.append({"cell": f"baseline|{w}|{rate}|0", "backend": "baseline",
                         "spec": "baseline", "mode": "none", "mechanism": "none",
                         "workload": w, "workload_spec": w, "kind": kind, "rate_target": rate,
                         "repeat": 0, "status": "ok", "reason": "", "expected": 10000,
                         "rate_achieved": float(rate)})
            for spec, (mode, per_wl) in OVERVIEW.items():
                v = per_wl[w]
                if v == "unsupported":
                    cost, lo, hi, drop, p99 = 0.5, 0.0, 1.0, NAN, NAN
                else:
                    cost, lo, hi, drop, p99 = v
                status = "unsupported" if v == "unsupported" else "ok"
                rows.append({
                    "cell": f"{spec}|{w}|{rate}|0", "backend": spec, "spec": spec, "mode": mode,
                    "mechanism": "test", "workload": w, "workload_spec": w, "kind": kind,
                    "rate_target": rate, "repeat": 0, "status": status, "reason": "",
                    "expected": 10000,
                    "matched": None if status != "ok" else round(10000 * (1 - drop)),
                    "drop_rate": None if status != "ok" else drop,
                    "latency_p99_us": p99 * k, "rate_achieved": float(rate),
                    "sensor_cpu_pct": 1.0, "sensor_cpu_s": 0.01, "cpu_us_per_event": 5.0,
                    "slowdown_pct": 1.0, "slowdown_ci_low_pct": 0.0, "slowdown_ci_high_pct": 2.0,
                    "overhead_ns_per_op": 100.0, "overhead_ci_low_ns": 50.0,
                    "overhead_ci_high_ns": 150.0, "blocks_used": 2, "blocks_dropped": 0,
                    "machine_cpu_us_per_op": cost * k, "machine_cpu_ci_low_us": lo * k,
                    "machine_cpu_ci_high_us": hi * k,
                })
    res = ResultsDir(path)
    res.replace_rows(rows)
    res.write_meta({"machine": {"hostname": "h"}})
    if not machine_cpu:   # a folder from before the column existed
        cells = pd.read_parquet(path / "cells.parquet")
        cells.drop(columns=[c for c in cells.columns if c.startswith("machine_cpu")]) \
            .to_parquet(path / "cells.parquet", index=False)
    return path


def _expected_points():
    return {(s, w): v for s, (_, per_wl) in OVERVIEW.items() for w, v in per_wl.items()
            if v != "unsupported" and v[0] == v[0]}


def test_overview_points_are_the_numbers_drawn():
    """The pure point preparation on a constructed cells frame: exactly the given cost,
    interval, drop rate and p99 per series and workload at the chosen rate; a series with
    no cost estimate and one that sees none of the kinds are left out and named."""
    from bench.report.overview import NO_COST, SEES_NONE, overview_points

    rows = []
    for (s, w), v in {(s, w): v for s, (_, pw) in OVERVIEW.items() for w, v in pw.items()}.items():
        for rate, k in (("1000", 1), ("5000", 10)):
            unsup = v == "unsupported"
            cost, lo, hi, drop, p99 = (0.5, 0.0, 1.0, NAN, NAN) if unsup else v
            rows.append({"series": s, "mode": OVERVIEW[s][0], "workload_spec": w,
                         "rate_target": rate, "status": "unsupported" if unsup else "ok",
                         "machine_cpu_us_per_op": cost * k, "machine_cpu_ci_low_us": lo * k,
                         "machine_cpu_ci_high_us": hi * k, "drop_rate": drop,
                         "latency_p99_us": p99 * k})
    ov = overview_points(pd.DataFrame(rows), {"file": "1000", "process": "1000"})
    got = {(r.series, r.workload_spec): (r.cost_us, r.cost_lo_us, r.cost_hi_us, r.drop_rate,
                                         r.p99_us) for r in ov.points.itertuples()}
    assert got == _expected_points()
    assert set(ov.points["rate_target"]) == {"1000"}
    assert dict(zip(ov.points["series"], ov.points["mode"]))["ebpf"] == "kernel"
    assert ov.left_out == {NO_COST: {"file": ["psutil"], "process": ["psutil"]},
                           SEES_NONE: {"process": ["fanotify"]}}
    text = ov.left_out_text()
    assert "no cost estimate: psutil;" in text and "fanotify (process)" in text
    # A frame without the cost columns at all (an older folder): every series is named.
    old = pd.DataFrame(rows).drop(columns=["machine_cpu_us_per_op", "machine_cpu_ci_low_us",
                                           "machine_cpu_ci_high_us"])
    ov = overview_points(old, {"file": "1000"})
    assert ov.points.empty
    assert sorted(ov.left_out[NO_COST]["file"]) == sorted(OVERVIEW)


def test_overview_points_of_a_loaded_folder(tmp_path):
    """The overview's points read from RunData.cells of a folder (what the RunData carries
    is tested in tests/unit/test_rundata.py): the headline rate, and exactly the numbers
    of OVERVIEW at it."""
    from bench.report.figure import headline_rate
    from bench.report.overview import overview_points

    run = RunData.load(_overview_folder(tmp_path / "r"))
    assert headline_rate(run) == headline_rate(run, "file") == "1000"
    ov = overview_points(run.cells, {w: headline_rate(run, w) for w in run.workloads()})
    got = {(r.series, r.workload_spec): (r.cost_us, r.cost_lo_us, r.cost_hi_us, r.drop_rate,
                                         r.p99_us) for r in ov.points.itertuples()}
    assert got == _expected_points()


def test_overview_chart_comes_first(tmp_path):
    """With one offered rate, charts/overview.png (cost vs loss at that rate) is the first
    chart of report.html and of the Markdown page, with a caption naming the series it
    leaves out; without cost columns it is not drawn and the report says why."""
    d = _overview_folder(tmp_path / "r", rates=("1000",))
    page = tmp_path / "README.md"
    g = generate(d, exports=False, markdown=page)
    png = d / "charts" / "overview.png"
    assert png in g.charts and (d / "charts" / "overview.svg") in g.charts
    w, h = png_size(png.read_bytes())
    assert w >= 600 and h >= 250
    text = g.report.read_text()
    figures = re.findall(r'<figure id="([^"]+)"', text)
    assert figures[0] == "overview" and figures.count("overview") == 1
    assert text.index('<figure id="overview"') < text.index('id="summary"')
    cap = re.search(r'<figure id="overview">.*?<figcaption>(.*?)</figcaption>', text, re.S)[1]
    assert "1000 ops/s" in cap and "95 % CI over paired blocks" in cap
    assert "no cost estimate: psutil" in cap and "fanotify (process)" in cap
    md = page.read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert links[0].endswith("charts/overview.png") and (page.parent / links[0]).is_file()
    assert sum(link.endswith("overview.png") for link in links) == 1
    assert md.index("overview.png") < md.index("## Headline at 1000 ops/s")

    old = _overview_folder(tmp_path / "old", machine_cpu=False, rates=("1000",))
    g = generate(old, exports=False)
    assert not (old / "charts" / "overview.png").exists()
    assert "no backend has a cost estimate" in g.report.read_text()


def test_with_several_rates_the_overview_is_capacity_against_cost(tmp_path):
    """A sweep or a search: the first chart is the capacity overview (its points are
    tested in tests/unit/test_capacity_chart.py); a folder whose cells carry no block
    costs has none to draw, and the report says why instead of drawing made-up points."""
    d = _overview_folder(tmp_path / "r")
    g = generate(d, exports=False)
    text = g.report.read_text()
    assert "Capacity vs cost at a glance" in text
    assert not (d / "charts" / "overview.png").exists()
    assert "no backend has a total cost estimate" in text


def test_each_mechanism_sets_our_sensor_next_to_its_real_tool(tmp_path):
    """A real run of inotify (C and Python parsers) and inotifywait: the report's table
    pairs them (inotifywait names inotify as its mechanism), ours first, each with its CPU
    per event over the repeats and its ratio to the tool; the tool has no ratio."""
    from bench.backends import availability
    from bench.report import mechanisms

    for name in ("inotify", "inotifywait"):
        why = availability(name)
        if why:
            pytest.skip(f"{name} unavailable here: {why}")
    out = tmp_path / "r"
    sensorbench("run", "-b", "inotify,inotify:parser=python,inotifywait", "-w", "file",
                "-r", "500", "-d", "0.5", "-n", "2", "--no-baseline", "--no-report",
                "--out", str(out))
    rows = mechanisms.rows(RunData.load(out))
    assert [str(r[1]) for r in rows] == ["inotify", "inotify:parser=python", "inotifywait"]
    assert {r[0] for r in rows} == {"inotify"} and {r[3] for r in rows} == {"file"}
    for r in rows:
        # "median [min–max]" over the two repeats, a number where the run measured one
        assert re.fullmatch(r"-?\d+\.\d \[-?\d+\.\d–-?\d+\.\d\]", r[5]), r
        # the marginal cost: resolved with its interval above zero, or not resolved;
        # never a negative number
        assert re.fullmatch(r"[\d,]+\.\d \[[\d,]+\.\d–[\d,]+\.\d\]|not resolved( \(≤ [\d,]+\.\d\))?",
                            cell_text(r[4])), r
    assert rows[0][6].value > 0 and rows[1][6].value > 0 and rows[2][6] == ""
    cli_in_process("report", str(out), "--markdown", str(tmp_path / "page.md"))
    page = (tmp_path / "page.md").read_text()
    assert "## Each mechanism: our reference sensor and the real tool" in page
    assert 'id="mechanisms"' in (out / "report.html").read_text()
