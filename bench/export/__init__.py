"""Exports of a results folder for CI tools, one module per format (as hyperfine does):

- ``pytest_benchmark``: ``pytest-benchmark.json`` in pytest-benchmark's own schema, so
  ``pytest-benchmark compare`` and dashboards built on it read sensorbench results;
- ``github``: ``github-benchmark.json`` for github-action-benchmark's ``customSmallerIsBetter``.

``write_all`` writes every format and returns the paths.
"""

from __future__ import annotations

from pathlib import Path

from bench.export import github, pytest_benchmark
from bench.results.rundata import RunData

EXPORTERS = {
    "pytest-benchmark.json": pytest_benchmark.export,
    "github-benchmark.json": github.export,
}


def write_all(run: RunData, folder: Path | None = None) -> list[Path]:
    folder = Path(folder or run.path)
    written = []
    for name, fn in EXPORTERS.items():
        path = folder / name
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(fn(run))
        tmp.replace(path)
        written.append(path)
    return written
