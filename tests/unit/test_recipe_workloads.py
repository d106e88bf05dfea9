"""Application recipes (workloads/recipes.py) and their inputs (workloads/_inputs.py):
deterministic input, settings checked in one line, steps that stay in the cell, and a
plan that runs a recipe once per cell at ``max``."""

from __future__ import annotations

import hashlib
import base64
import zipfile
from pathlib import Path

import pytest

from bench.core.errors import BadInput
from bench.harness import runner
from bench.harness.spec import parse_workload
from workloads import RECIPES, SYNTHETIC, WORKLOADS, get_workload
from workloads import _inputs, recipes


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_recipes_are_the_workloads_that_are_not_synthetic():
    assert set(RECIPES) == set(WORKLOADS) - set(SYNTHETIC)
    assert all(get_workload(n).recipe for n in RECIPES)
    assert not any(get_workload(n).recipe for n in SYNTHETIC)


@pytest.mark.parametrize("make", [_inputs.tree, _inputs.c_project, _inputs.downloads])
def test_inputs_are_the_same_bytes_for_the_same_seed_and_scale(tmp_path, make):
    make(tmp_path / "a", 1, 7)
    make(tmp_path / "b", 1, 7)
    make(tmp_path / "c", 1, 8)
    a, b, c = (digest(tmp_path / x) for x in "abc")
    assert a == b and a
    assert a != c and a.keys() == c.keys()


def test_the_tree_grows_with_scale_and_carries_the_needle(tmp_path):
    one = _inputs.tree(tmp_path / "one", 1, 0)
    two = _inputs.tree(tmp_path / "two", 2, 0)
    assert one == _inputs.TREE_SMALL + _inputs.TREE_LARGE and two == 2 * one
    needles = [p for p in (tmp_path / "one").rglob("*.txt")
               if _inputs.NEEDLE.encode() in p.read_bytes()]
    assert len(needles) == -(-_inputs.TREE_SMALL // 7)


def test_the_wheel_is_one_pip_accepts(tmp_path):
    """PEP 427: every file but RECORD itself is listed with its sha256 and size."""
    whl = _inputs.wheel(tmp_path, 1, 0)
    assert whl == _inputs.wheel_path(tmp_path)
    with zipfile.ZipFile(whl) as z:
        names = z.namelist()
        info = f"{_inputs.WHEEL_NAME}-{_inputs.WHEEL_VERSION}.dist-info"
        record = z.read(f"{info}/RECORD").decode().splitlines()
        listed = {line.split(",")[0]: line for line in record}
        assert set(listed) == set(names)
        for name in names:
            if name.endswith("RECORD"):
                continue
            data = z.read(name)
            digest_ = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert listed[name] == f"{name},sha256={digest_.decode()},{len(data)}"
    assert sum(n.endswith(".py") for n in names) == _inputs.WHEEL_MODULES + 1


def test_the_c_project_builds_every_source(tmp_path):
    n = _inputs.c_project(tmp_path / "src", 2, 0)
    assert n == 2 * _inputs.C_FILES
    make = (tmp_path / "src" / "Makefile").read_text()
    assert all(f"m{i:04d}.o" in make for i in range(n)) and "main.o" in make


@pytest.mark.parametrize("text, problem", [
    ("copy:scale=0", "must be > 0"), ("build:scale=-1", "must be > 0"),
    ("cmd", "cmd needs argv=COMMAND"), ("copy:threads=2", "has no setting 'threads'"),
    ("nosuch", "unknown workload"),
])
def test_bad_recipe_settings_are_one_line(text, problem):
    with pytest.raises(BadInput, match=problem):
        parse_workload(text)


def test_a_missing_tool_names_its_package(monkeypatch):
    monkeypatch.setattr(recipes, "_which", lambda tool: None)
    assert recipes.Download.unavailable({}) == "needs curl (Debian package curl)"
    assert recipes.Build.unavailable({}) == "needs make (Debian package make)"
    assert "not found on PATH" in recipes.Cmd.unavailable({"argv": "nosuchtool -x"})


def test_a_commands_argv_is_split_as_a_shell_would(tmp_path):
    w = recipes.Cmd(None, "m", str(tmp_path), {"argv": "sh -c 'echo a b > out.txt'"})
    assert w.steps() == [["sh", "-c", "echo a b > out.txt"]]


def test_steps_keep_home_temporary_files_and_caches_in_the_cell_and_use_no_proxy(
        tmp_path, monkeypatch):
    monkeypatch.setenv("http_proxy", "http://proxy:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    env = recipes.Copy(None, "m", str(tmp_path)).env()
    assert not any("proxy" in k.lower() for k in env)
    assert env["HOME"].startswith(str(tmp_path)) and env["TMPDIR"].startswith(str(tmp_path))
    assert env["PIP_NO_CACHE_DIR"] == "1"


def test_every_recipes_steps_name_paths_in_its_cell_only(tmp_path):
    """What a step writes is under the cell's directory: its paths are (the command's
    own, cmd, is the user's)."""
    for name in RECIPES:
        cls = get_workload(name)
        if name in ("cmd", "download", "stress-ng"):
            continue   # need a running server / a port: their paths are checked below
        w = cls(None, "m", str(tmp_path / name))
        for argv in w.steps():
            paths = [a for a in argv if a.startswith("/") and not Path(a).exists()]
            assert all(p.startswith(str(tmp_path / name)) for p in paths), (name, paths)


def test_a_recipe_runs_once_per_cell_at_max_whatever_the_rates():
    cfg = runner.RunConfig([], [parse_workload("copy"), parse_workload("file")],
                           ["1000", "2000"], 1.0, 2, Path("/nonexistent"), baseline=False)
    assert runner.rates_for(cfg.workloads[0], cfg.rates) == ["max"]
    assert runner.rates_for(cfg.workloads[1], cfg.rates) == ["1000", "2000"]
