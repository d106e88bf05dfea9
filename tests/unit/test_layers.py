"""Imports point down the layers, and a new import that points up fails here.

    core  <-  analysis, backends  <-  harness  <-  results  <-  report, export  <-  publish  <-  cli

A package may import its own modules and anything in a lower layer; packages of one
layer do not import each other (analysis and backends, report and export). ``workloads``
stands on ``bench.core`` alone: it knows nothing of backends, and backends nothing of it.
Every import counts, also the ones inside functions (imported late to start faster, they
are still dependencies)."""

from __future__ import annotations

import ast

import pytest

from tests.helpers import ROOT

LAYERS = {
    "bench.core": 0,
    "bench.analysis": 1, "bench.backends": 1,
    "bench.harness": 2,
    "bench.results": 3, "bench.scenario": 3,
    "bench.report": 4, "bench.export": 4,
    "bench.publish": 5,
    "bench.cli": 6,
}


def _package(module: str) -> str | None:
    for p in LAYERS:
        if module == p or module.startswith(p + "."):
            return p
    return None


def _imports(path) -> list[tuple[int, str]]:
    """(line, module) of every import of sensorbench's own code in a file."""
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from bench import backends` imports the module bench.backends
            out += [(node.lineno, f"{node.module}.{a.name}") if node.module in ("bench", "workloads")
                    else (node.lineno, node.module) for a in node.names]
    return [(n, m) for n, m in out if m.split(".")[0] in ("bench", "workloads")]


def _module(path, root) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def violations(root=ROOT) -> list[str]:
    bad = []
    for path in sorted([*root.glob("bench/**/*.py"), *root.glob("workloads/**/*.py")]):
        me = _module(path, root)
        mine = _package(me)
        for line, target in _imports(path):
            where = f"{path.relative_to(root)}:{line} imports {target}"
            if target == "bench" or target == "bench.__version__":
                continue
            theirs = _package(target)
            if me.startswith("workloads"):
                if not (target.startswith("workloads") or theirs == "bench.core"):
                    bad.append(f"{where}: a workload may use bench.core only")
                continue
            if target.startswith("workloads"):
                if mine not in ("bench.harness", "bench.cli"):
                    bad.append(f"{where}: only the harness and the CLI run workloads")
                continue
            if mine is None or theirs is None:
                bad.append(f"{where}: module outside the layers (add it to a layer package)")
            elif theirs != mine and LAYERS[theirs] >= LAYERS[mine]:
                bad.append(f"{where}: {mine} (layer {LAYERS[mine]}) may not import "
                           f"{theirs} (layer {LAYERS[theirs]})")
    return bad


def test_imports_point_down_the_layers():
    assert violations() == []


def test_every_module_lives_in_a_layer():
    loose = [p.name for p in (ROOT / "bench").glob("*.py")
             if p.name not in ("__init__.py", "cli.py", "publish.py")]
    assert loose == [], f"modules outside the layer packages: {loose}"


@pytest.mark.parametrize("module,text,expect", [
    ("bench/core/x.py", "from bench.harness import runner\n", "may not import bench.harness"),
    ("bench/backends/x.py", "def f():\n    from bench.analysis import metrics\n",
     "may not import bench.analysis"),
    ("bench/report/x.py", "from bench import export\n", "may not import bench.export"),
    ("workloads/x.py", "from bench.backends import base\n", "bench.core only"),
    ("bench/results/x.py", "from bench.harness.machine import facts\n", None),
])
def test_the_check_catches_an_upward_import(tmp_path, module, text, expect):
    f = tmp_path / module
    f.parent.mkdir(parents=True)
    f.write_text(text)
    found = violations(tmp_path)
    if expect is None:
        assert found == []
    else:
        assert len(found) == 1 and expect in found[0], found
