"""A stored folder reports the same whatever code is installed: what the report needs to
know of each backend (the real tool of a mechanism, its mode, mechanism, kinds, partial
keys) comes from the records ``meta.json`` keeps (``harness.session.backend_record``),
never from the backend registry; only a folder made before those records existed asks
the registry."""

from __future__ import annotations

import pytest

from bench import backends
from bench.report import html, markdown, mechanisms
from bench.report.present import cell_text
from bench.results.rundata import RunData
from tests.helpers.constructed import MACHINE, cell_rows, write_folder


def _record(name: str, mechanism: str, same: str | None) -> dict:
    return {"name": name, "settings": {}, "mode": "user", "mechanism": mechanism,
            "kinds": ["file_create"], "partial_keys": {}, "same_mechanism": same}


def _folder(path, records: bool):
    rows = []
    for rep in (0, 1):
        for spec, cpu in (("fanotify", 2.0), ("fatrace", 6.0)):
            rows += cell_rows(spec, ("file_create",), workload="file", repeat=rep,
                              cpu_us_per_event=cpu + rep, sensor_marginal_us_per_event=cpu,
                              sensor_idle_cpu_pct=0.1, sensor_cpu_pct=1.0)
    meta = {"machine": MACHINE, "plan": {"rates": ["1000"]}}
    if records:
        meta["backends"] = {"fanotify": _record("fanotify", "fanotify", None),
                            "fatrace": _record("fatrace", "fanotify (fatrace)", "fanotify")}
    else:   # a folder from before the records: a backend's name and settings only
        meta["backends"] = {s: {"name": s, "settings": {}} for s in ("fanotify", "fatrace")}
    return RunData.load(write_folder(path, rows, meta=meta))


def _render(run: RunData, tmp_path) -> str:
    return (html.render(run, [], [])
            + markdown.render(run, [], tmp_path / "README.md", "make reference"))


def _unavailable(*_a, **_k):
    raise RuntimeError("the backend registry is not available")


class _Gone(dict):
    """A registry that cannot be read (whoever holds ``get`` or ``names`` gets this)."""

    __contains__ = __getitem__ = get = items = keys = values = __iter__ = _unavailable


def _no_registry(monkeypatch) -> None:
    monkeypatch.setattr(backends, "REGISTRY", _Gone())
    for f in ("get", "names", "availability"):
        monkeypatch.setattr(backends, f, _unavailable)


@pytest.fixture
def no_registry(monkeypatch):
    _no_registry(monkeypatch)


def test_a_report_needs_no_registry(tmp_path, monkeypatch):
    folder = tmp_path / "r"
    run = _folder(folder, records=True)
    with_registry = _render(run, tmp_path)
    rows = mechanisms.rows(run)
    assert [cell_text(r[1]) for r in rows] == ["fanotify", "fatrace"]   # the pair, as recorded
    assert cell_text(rows[0][6]) == "0.38"   # all-in CPU per event, medians: 2.5 / 6.5 µs
    assert "fatrace" in with_registry and "0.38" in with_registry
    _no_registry(monkeypatch)
    assert _render(RunData.load(folder), tmp_path) == with_registry


def test_the_recorded_pairing_wins_over_the_installed_one(tmp_path, no_registry):
    # the code installed here would pair fatrace with fanotify; the run recorded none
    run = _folder(tmp_path / "r", records=True)
    run.meta["backends"]["fatrace"]["same_mechanism"] = None
    assert mechanisms.rows(run) == []


def test_a_folder_from_before_the_records_asks_the_registry(tmp_path):
    run = _folder(tmp_path / "r", records=False)
    assert [cell_text(r[1]) for r in mechanisms.rows(run)] == ["fanotify", "fatrace"]


def test_without_records_or_registry_nothing_is_paired(tmp_path, no_registry):
    assert mechanisms.rows(_folder(tmp_path / "r", records=False)) == []

