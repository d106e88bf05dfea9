"""Everything written from one results folder, in one call: charts, ``report.html``, the CI
exports and (on request) a Markdown page. It sits above ``bench.report`` and
``bench.export``, which know nothing of each other."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Generated:
    report: Path
    charts: list[Path]
    exports: list[Path]
    notes: list[str]


def generate(folder: str | Path, exports: bool = True, markdown: Path | None = None,
             command: str | None = None) -> Generated:
    """Charts, report.html and exports of ``folder``; also a Markdown page at ``markdown``
    (charts linked relative to it) that names ``command`` as the way to regenerate it."""
    from bench import export
    from bench.report import charts as chartmod, html, markdown as mdmod
    from bench.results import applications
    from bench.results.rundata import RunData

    run = RunData.load(folder, strict_meta=False)  # the cells are worth showing anyway
    out = run.path / "charts"
    # Old charts of an earlier report would linger next to new ones: start clean.
    if out.is_dir():
        for p in list(out.glob("*.png")) + list(out.glob("*.svg")):
            p.unlink()
    charts, skipped = chartmod.build(run, out)
    report = html.write(run, charts, skipped, run.path / "report.html")
    # The CI exports are of cost and loss cells; a folder of failure scenarios has none.
    written = export.write_all(run) if exports and len(run.raw) else []
    # the application recipes' table, for a reader with a spreadsheet
    apps = applications.frame(run) if len(run.raw) else None
    if apps is not None and len(apps):
        path = run.path / "applications.csv"
        apps.to_csv(path.with_suffix(".csv.tmp"), index=False)
        path.with_suffix(".csv.tmp").replace(path)
        written.append(path)
    if markdown is not None:
        mdmod.write(run, charts, Path(markdown), command or f"sensorbench report {run.path}")
    notes = list(run.notes) + [f"{s.section}: {s.what} not drawn: {s.reason}" for s in skipped]
    return Generated(report, [c.png for c in charts] + [c.svg for c in charts], written, notes)
