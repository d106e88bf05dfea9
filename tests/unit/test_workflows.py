"""The GitHub Actions workflows users copy (``.github/workflows/``) and the docs' Windows and
CI sections.

Their shape (keys, types, required fields) is GitHub's workflow schema's to judge:
check-jsonschema's vendored copy of it, offline. What no schema can know is checked here:
every ``run:`` step calls only commands that exist in this repository, with arguments they
accept:

- ``sensorbench SUB ...`` (also ``.venv/bin/sensorbench``, ``py -m bench.cli``): parsed by
  SUB's own click parser (options, values, arguments, required options); backends,
  workloads, rates and ``--fail-on`` rules are then parsed as the CLI parses them;
- ``make TARGET VAR=...``: a target and a variable of the Makefile (``BENCH_ARGS`` is checked
  as the arguments of ``sensorbench run``, ``CALIBRATE_ARGS`` of ``calibrate``);
- ``pytest`` / ``py -m pytest`` / ``python -m pytest``: ``-m`` names declared markers and
  paths exist; ``pip install -e .[extra]``: the extra is declared in pyproject.toml;
- a script named by its path exists in the repository; anything else is one of the few
  shell and system commands listed in ``ALLOWED``;

and every action a step ``uses`` is pinned to a version (GitHub refuses one without).
A check that passes everything is worth nothing: ``test_the_schema_catches_mistakes`` and
``test_the_check_catches_mistakes`` feed them workflows full of them. No root, no network,
nothing Linux-only: it runs on Windows too.
"""

from __future__ import annotations

import itertools
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
EXPECTED = ("windows.yml", "pr-gate.yml", "fleet.yml")
FOUND = sorted(p.name for p in WORKFLOWS.glob("*.y*ml"))

pytestmark = pytest.mark.windows

# Shell built-ins and system programs the workflows may call besides the project's own.
ALLOWED = {
    # shell
    "cd", "echo", "true", "test", "ls", "cat", "cp", "mkdir", "rm", "chown", "id", "uname",
    "command", "export",
    # system and tools on GitHub's runners
    "sudo", "apt-get", "git", "pip", "py", "python", "python3",
    # PowerShell (Windows runners)
    "Start-Process", "Invoke-WebRequest", "Expand-Archive", "Write-Host", "Get-ChildItem",
    # Sysinternals' Sysmon installer, downloaded by the windows workflow
    "Sysmon64.exe",
}
# Makefile variables whose value is the argument list of a sensorbench command.
MAKE_ARGS = {"BENCH_ARGS": "run", "CALIBRATE_ARGS": "calibrate", "PYTEST_ARGS": "pytest"}
SHELL_WORDS = {"for", "if", "fi", "done", "while", "until", "[", "[[", "case", "esac"}
SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")", "{", "}"}
PLACEHOLDER = "X"


# -- the project's facts ------------------------------------------------------------------
def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def declared_markers() -> set[str]:
    marks = _pyproject()["tool"]["pytest"]["ini_options"].get("markers", [])
    return {m.split(":", 1)[0].split("(", 1)[0].strip() for m in marks}


def declared_extras() -> set[str]:
    return set(_pyproject()["project"].get("optional-dependencies", {}))


def make_targets() -> tuple[set[str], set[str]]:
    """The Makefile's targets and the variables it uses."""
    text = (ROOT / "Makefile").read_text()
    targets = set()
    for m in re.finditer(r"^([A-Za-z0-9_.%/-][^:=#\n]*?)\s*:(?!=)", text, re.M):
        targets.update(t for t in m.group(1).split() if not t.startswith((".", "$")))
    for m in re.finditer(r"^\.PHONY\s*:(.*)$", text, re.M):
        targets.update(m.group(1).split())
    variables = set(re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", text))
    variables |= set(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)\s*[?:]?=", text, re.M))
    return targets, variables


def cli_commands() -> dict:
    """sensorbench's commands as click sees them: name -> click command."""
    import typer.main

    from bench.cli import app

    return dict(typer.main.get_command(app).commands)


def known_backends() -> set[str]:
    from bench import backends

    backends.names()   # registers the installed packages' backends too
    return set(backends.REGISTRY)


def known_workloads() -> set[str]:
    from workloads import WORKLOADS

    return set(WORKLOADS)


# -- reading run: scripts -------------------------------------------------------------------
def _expand_expressions(text: str, env: dict[str, str], matrix: dict[str, str]) -> str:
    """``${{ env.X }}`` and ``${{ matrix.X }}`` by their values, any other expression by a
    placeholder word (its value is GitHub's to know)."""
    def sub(m: re.Match) -> str:
        expr = m.group(1).strip()
        if expr.startswith("env.") and expr[4:] in env:
            return env[expr[4:]]
        if expr.startswith("matrix.") and expr[7:] in matrix:
            return str(matrix[expr[7:]])
        return PLACEHOLDER
    return re.sub(r"\$\{\{(.*?)\}\}", sub, text)


def _expand_variables(text: str, env: dict[str, str]) -> str:
    """``$X``, ``${X}``, ``$env:X`` by the step's environment; ``$(...)`` and variables the
    workflow does not set (the runner's, a loop's) by a placeholder word."""
    while True:   # innermost command substitutions first
        new = re.sub(r"\$\([^()]*\)", PLACEHOLDER, text)
        if new == text:
            break
        text = new

    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        return env.get(name, PLACEHOLDER)
    return re.sub(r"\$env:([A-Za-z_]\w*)|\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)", sub, text)


def commands(script: str, shell: str = "bash", env: dict[str, str] | None = None,
             matrix: dict[str, str] | None = None) -> list[list[str]]:
    """The simple commands of a ``run:`` script, each as its words, after expansion."""
    env = {k: str(v) for k, v in (env or {}).items()}
    for k in list(env):   # env values may use expressions themselves
        env[k] = _expand_expressions(env[k], env, matrix or {})
    text = _expand_expressions(script, env, matrix or {})
    if shell == "pwsh":
        text = text.replace("`\n", " ").replace("\\", "/")   # continuations; path separators
    else:
        text = text.replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = _expand_variables(line, env)
        lex = shlex.shlex(line, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        lex.commenters = "#"
        try:
            words = list(lex)
        except ValueError as e:   # unbalanced quotes
            out.append(["<unparsable>", line, str(e)])
            continue
        for is_sep, group in itertools.groupby(words, lambda w: w in SEPARATORS):
            if not is_sep:
                out.append(list(group))
    simple = []
    for cmd in out:
        while cmd and cmd[0] in ("do", "then", "else", "!"):
            cmd = cmd[1:]
        while cmd and re.fullmatch(r"[A-Za-z_]\w*=.*", cmd[0]):   # VAR=value cmd
            cmd = cmd[1:]
        if cmd and cmd[0] not in SHELL_WORDS:
            simple.append(cmd)
    return simple


# -- checking one command -------------------------------------------------------------------
def check(cmd: list[str]) -> list[str]:
    """What is wrong with one simple command (empty when nothing is)."""
    if cmd[0] == "<unparsable>":
        return [f"cannot parse {cmd[1]!r}: {cmd[2]}"]
    name = cmd[0]
    base = re.split(r"[/\\]", name)[-1]
    if base.lower().endswith(".exe") and base not in ALLOWED:
        base = base[:-4]
    if name.startswith((".venv/bin/", ".venv/Scripts/")):
        name = base
    if base == "sudo" and name == "sudo":
        rest = cmd[1:]
        while rest and (rest[0].startswith("-") or re.fullmatch(r"[A-Za-z_]\w*=.*", rest[0])):
            rest = rest[1:]
        return check(rest) if rest else ["sudo runs nothing"]
    if name == "sensorbench":
        return check_sensorbench(cmd[1:])
    if name in ("pytest", "py.test"):
        return check_pytest(cmd[1:])
    if name == "make":
        return check_make(cmd[1:])
    if name == "pip":
        return check_pip(cmd[1:])
    if name in ("py", "python", "python3"):
        return check_python(cmd[1:])
    if "/" in name and name not in ALLOWED and base not in ALLOWED:
        if name.startswith(PLACEHOLDER + "/") or not (ROOT / name).exists():
            return [f"{name}: no such script in the repository"]
        return []
    if name in ALLOWED or base in ALLOWED:
        return []
    return [f"{name}: not a command of the project nor an allowed shell/system command"]


def check_python(args: list[str]) -> list[str]:
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-m":
        i += 1   # interpreter options: py -3.11, python -u, py -0p
    if i == len(args):
        return []
    if args[i] == "-m":
        if i + 1 == len(args):
            return ["python -m names no module"]
        module, rest = args[i + 1], args[i + 2:]
        if module == "pytest":
            return check_pytest(rest)
        if module == "pip":
            return check_pip(rest)
        if module == "bench.cli":
            return check_sensorbench(rest)
        if module in ("venv", "ensurepip"):
            return []
        path = ROOT / Path(*module.split("."))
        if path.with_suffix(".py").exists() or (path / "__main__.py").exists():
            return []
        return [f"python -m {module}: no such module in the project"]
    script = args[i]
    return [] if (ROOT / script).exists() else [f"python {script}: no such script"]


def check_pip(args: list[str]) -> list[str]:
    problems = []
    for a in args:
        m = re.fullmatch(r"\.\[([^\]]*)\]", a)
        if m:
            missing = {e.strip() for e in m.group(1).split(",")} - declared_extras()
            if missing:
                problems.append(f"pip install {a}: no extra {', '.join(sorted(missing))} in "
                                "pyproject.toml")
    return problems


def check_pytest(args: list[str]) -> list[str]:
    problems, markers = [], declared_markers()
    it = iter(args)
    for a in it:
        if a == "-m":
            expr = next(it, "")
            names = set(re.findall(r"[A-Za-z_]\w*", expr)) - {"and", "or", "not"}
            for n in sorted(names - markers):
                problems.append(f"pytest -m {expr!r}: marker {n!r} is not declared in "
                                "pyproject.toml")
        elif a in ("-k", "-p", "-c", "-o", "--benchmark-json", "--junitxml", "--rootdir"):
            next(it, None)
        elif not a.startswith("-"):
            path = a.split("::")[0]
            if path != PLACEHOLDER and not (ROOT / path).exists():
                problems.append(f"pytest {a}: no such test path")
    return problems


def check_make(args: list[str]) -> list[str]:
    targets, variables = make_targets()
    problems = []
    it = iter(args)
    for a in it:
        if a in ("-C", "-f", "-j"):
            next(it, None)
        elif a.startswith("-"):
            continue
        elif "=" in a:
            var, _, value = a.partition("=")
            if var not in variables:
                problems.append(f"make {var}=...: the Makefile has no variable {var}")
            elif var in MAKE_ARGS:
                words = shlex.split(value)
                sub = MAKE_ARGS[var]
                problems += [f"make {var}: {p}" for p in
                             (check_pytest(words) if sub == "pytest"
                              else check_sensorbench([sub, *words]))]
        elif a not in targets:
            problems.append(f"make {a}: no such target in the Makefile")
    return problems


def _check_values(sub: str, given: dict[str, list[str]]) -> list[str]:
    """Values parsed as the CLI parses them, for the options whose values name things."""
    from bench.cli import parse_rates
    from bench.core.errors import BenchError
    from bench.core.settings import split_specs
    from bench.results.compare import parse_fail_on

    def names(values):   # NAME of each NAME[:key=value,...], split as the CLI splits them
        return [spec.partition(":")[0] for spec in split_specs(values)]

    problems = []
    if sub in ("run", "scenario") and given.get("backend"):
        known = known_backends()
        problems += [f"sensorbench {sub} -b: unknown backend {n!r}"
                     for n in names(given["backend"]) if n not in known]
    if sub in ("run", "calibrate", "scenario") and given.get("workload"):
        known = known_workloads()
        problems += [f"sensorbench {sub} -w: unknown workload {n!r}"
                     for n in names(given["workload"]) if n not in known]
    for opt, parse in (("rate", lambda v: parse_rates(
            [p for x in v for p in x.split(",") if p])),
            ("fail_on", parse_fail_on)):
        if given.get(opt) and PLACEHOLDER not in given[opt]:
            try:
                parse(given[opt])
            except BenchError as e:
                problems.append(f"sensorbench {sub}: {e}")
    return problems


def check_sensorbench(args: list[str]) -> list[str]:
    """``sensorbench SUB ARGS``, parsed by SUB's own click parser, then its values."""
    if not args:
        return ["sensorbench without a command"]
    sub, rest = args[0], args[1:]
    if sub in ("--help", "-h") or "--help" in rest:
        return []
    cmds = cli_commands()
    if sub not in cmds:
        return [f"sensorbench {sub}: no such command (commands: {', '.join(cmds)})"]
    try:
        ctx = cmds[sub].make_context(f"sensorbench {sub}", list(rest))
    except Exception as e:   # click's usage errors (click's own, or the copy typer ships)
        if not hasattr(e, "format_message"):
            raise
        return [f"sensorbench {sub}: {e.format_message()}"]
    given = {name: value for name, value in ctx.params.items()
             if ctx.get_parameter_source(name).name == "COMMANDLINE"}
    # Declared required yet absent: some typer/click pairs the floors allow let it pass.
    missing = [f"sensorbench {sub}: Missing {p.param_type_name} '{p.opts[0]}'"
               for p in ctx.command.params if p.required and p.name not in given]
    return missing + _check_values(sub, given)


# -- checking a workflow --------------------------------------------------------------------
def _matrices(job: dict) -> list[dict]:
    """Every combination of a job's matrix (``include`` entries, or the product of its axes)."""
    m = (job.get("strategy") or {}).get("matrix")
    if not isinstance(m, dict):
        return [{}]
    axes = {k: v for k, v in m.items() if k not in ("include", "exclude") and isinstance(v, list)}
    combos = [dict(zip(axes, vs)) for vs in itertools.product(*axes.values())] if axes else []
    combos += [dict(x) for x in m.get("include") or []]
    return combos or [{}]


def _applies(cond, matrix: dict) -> bool:
    """Whether a step's ``if:`` can hold for this matrix combination: its ``matrix.X == 'v'``
    (or ``!=``) terms joined by ``&&`` are evaluated, anything else may hold."""
    if not isinstance(cond, str) or "||" in cond:
        return True
    cond = re.sub(r"^\s*\$\{\{(.*)\}\}\s*$", r"\1", cond)
    for part in re.split(r"\s*&&\s*", cond.strip()):
        m = re.fullmatch(r"matrix\.(\w+)\s*(==|!=)\s*'([^']*)'", part.strip())
        if m and m.group(1) in matrix and (str(matrix[m.group(1)]) == m.group(3)) != \
                (m.group(2) == "=="):
            return False
    return True


def workflow_problems(doc: dict, where: str = "") -> list[str]:
    """The commands of one loaded workflow's ``run:`` steps (in each matrix combination
    whose ``if:`` can hold) and the versions of the actions its steps use. Its shape is
    the schema's (``test_workflows_match_github_schema``)."""
    problems = []
    top_env = doc.get("env") or {}
    for jname, job in (doc.get("jobs") or {}).items():
        runs_on = str(job.get("runs-on", ""))
        for n, step in enumerate(job.get("steps") or [], 1):
            label = f"{where} job {jname} step {n} ({step.get('name') or step.get('uses')})"
            uses = step.get("uses", "")
            if uses and "@" not in uses and not uses.startswith("./"):
                problems.append(f"{label}: {uses} is not pinned to a version (@...)")
            if "run" not in step:
                continue
            env = {**top_env, **(job.get("env") or {}), **(step.get("env") or {})}
            for matrix in _matrices(job):
                if not _applies(step.get("if"), matrix):
                    continue
                host = _expand_expressions(runs_on, {}, matrix)
                shell = step.get("shell") or (job.get("defaults", {}).get("run", {})
                                              .get("shell")) or \
                    ("pwsh" if host.startswith("windows") else "bash")
                for cmd in commands(step["run"], shell, env, matrix):
                    problems += [f"{label}: {p}" for p in check(cmd)]
    return sorted(set(problems), key=problems.index)


def schema_check(paths: list[Path]) -> subprocess.CompletedProcess:
    """check-jsonschema with its vendored GitHub workflow schema (no download), every error
    listed (``-v``); exit 0 when all files match."""
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
         "-v", *map(str, paths)], capture_output=True, text=True, timeout=120)


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


# -- the tests ------------------------------------------------------------------------------
def test_the_workflows_exist():
    assert set(EXPECTED) <= set(FOUND)


def test_workflows_match_github_schema():
    r = schema_check([WORKFLOWS / name for name in FOUND])
    assert r.returncode == 0, r.stdout + r.stderr


SCHEMA_BAD = """
name: bad
on: [push]
jobs:
  a:
    runs-on: ubuntu-24.04
    timeout-minutes: soon
    stpes:
      - run: echo hi
  b:
    steps:
      - run: echo hi
        continue-on-error: maybe
"""


def test_the_schema_catches_mistakes(tmp_path):
    """A misspelt key, values of the wrong type and a job with no runner fail the check."""
    bad = tmp_path / "bad.yml"
    bad.write_text(SCHEMA_BAD)
    r = schema_check([bad])
    assert r.returncode == 1, r.stdout + r.stderr
    for expected in ("'stpes' was unexpected", "'soon' is not of type 'number'",
                     "'maybe' is not of type 'boolean'", "'runs-on' is a required property"):
        assert expected in r.stdout, f"not caught: {expected}\n{r.stdout}"


@pytest.mark.parametrize("name", FOUND)
def test_workflow_runs_only_what_exists(name):
    doc = _load(WORKFLOWS / name)
    assert doc.get("name"), "a workflow names itself (the Actions tab shows it)"
    assert workflow_problems(doc, name) == []


def test_the_check_reads_what_the_workflows_say():
    """The commands it finds in pr-gate.yml are the ones written there, expanded."""
    doc = _load(WORKFLOWS / "pr-gate.yml")
    job = doc["jobs"]["bench"]
    env = {**doc["env"], **job["env"]}
    found = [c for s in job["steps"] if "run" in s
             for c in commands(s["run"], "bash", {**env, **(s.get("env") or {})})]
    names = [c[0] if c[0] != "sudo" else c[1] for c in found]
    assert {"apt-get", "make", ".venv/bin/sensorbench", "git"} <= set(names)
    make = next(c for c in found if "make" in c[:2])
    bench_args = next(a for a in make if a.startswith("BENCH_ARGS="))
    assert "-b ebpf,audit" in bench_args and "--out results/ci/X" in bench_args
    gate = next(c for c in found if c[:2] == [".venv/bin/sensorbench", "compare"])
    assert gate.count("--fail-on") == 4 and "--cross-machine" in gate


def test_what_each_workflow_runs():
    win = _load(WORKFLOWS / "windows.yml")
    for job in win["jobs"].values():
        assert job["runs-on"] == "windows-latest"
        setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
        assert str(setup["with"]["python-version"]) == "3.11"
        assert any(s.get("uses", "").startswith("actions/upload-artifact") for s in job["steps"])
    runs = " ".join(s.get("run", "") for s in win["jobs"]["etw"]["steps"])
    assert 'py -m pip install -e ".[test]"' in runs and "py -m pytest -m windows" in runs
    assert 'sensorbench run -b etw -w "file,process,network"' in runs
    assert "sensorbench doctor" in runs
    sysmon = " ".join(s.get("run", "") for s in win["jobs"]["sysmon"]["steps"])
    assert "Sysmon64.exe" in sysmon and "-accepteula -i bench\\backends\\sysmon\\sysmon.xml" in sysmon
    assert "sensorbench run -b sysmon" in sysmon

    gate = _load(WORKFLOWS / "pr-gate.yml")
    assert set(gate[True]) >= {"push", "pull_request"}
    steps = gate["jobs"]["bench"]["steps"]
    publish = next(s for s in steps if s.get("uses", "").startswith(
        "benchmark-action/github-action-benchmark@"))
    # the tool the export is written for, and the file it writes
    from bench import export
    from bench.export import github

    assert publish["with"]["tool"] in github.__doc__
    assert publish["with"]["output-file-path"].endswith("/github-benchmark.json")
    assert "github-benchmark.json" in export.EXPORTERS
    assert any("sensorbench compare" in s.get("run", "") for s in steps)

    fleet = _load(WORKFLOWS / "fleet.yml")
    assert {"workflow_dispatch", "schedule"} <= set(fleet[True])
    runners = {m["runner"] for m in _matrices(fleet["jobs"]["run"])}
    assert {"ubuntu-22.04", "ubuntu-24.04", "ubuntu-24.04-arm", "windows-latest"} <= runners
    merge = " ".join(s.get("run", "") for s in fleet["jobs"]["merge"]["steps"])
    assert "sensorbench merge" in merge and "sensorbench report" in merge
    assert fleet["jobs"]["merge"]["needs"] == "run"


def test_the_sysmon_configuration_the_workflow_installs_ships():
    if not (ROOT / "bench" / "backends" / "sysmon").is_dir():
        pytest.skip("the sysmon backend is not in the tree yet")
    assert (ROOT / "bench" / "backends" / "sysmon" / "sysmon.xml").is_file()


BAD = """
name: bad
on: [push]
jobs:
  a:
    runs-on: ubuntu-24.04
    env:
      ARGS: -b synthetic --duraton 1
    steps:
      - uses: actions/checkout
      - run: sensorbench compair base new
      - run: .venv/bin/sensorbench run -w file --repaet 3
      - run: sensorbench run --no-baseline=1
      - run: sensorbench merge a b
      - run: sensorbench report a b
      - run: sensorbench compare base
      - run: sensorbench run -b nosuchsensor -w file,nosuchload -r fast
      - run: sensorbench compare a b --fail-on latency=5
      - run: sudo make bnech
      - run: sudo make bench BENCH_ARGS="$ARGS"
      - run: make test NOSUCHVAR=1
      - run: py -m pytest -m "windoze and not integration"
      - run: python -m pytest tests/nosuchdir
      - run: py -m pip install -e ".[tset]"
      - run: ./scripts/nosuch.sh --flag
      - run: frobnicate --all
      - run: |
          echo fine && sensorbench reprot results
  b:
    runs-on: windows-latest
    steps:
      - run: py -m bench.cli doctr
"""


def test_the_check_catches_mistakes():
    problems = "\n".join(workflow_problems(yaml.safe_load(BAD), "bad"))
    lines = problems.splitlines()
    for expected in (
            "actions/checkout is not pinned",
            "sensorbench compair: no such command",
            # click's words differ between versions: the command and the culprit
            ("sensorbench run: No such option", "--repaet"),
            ("sensorbench run: Option '--no-baseline' does not take a value",),
            ("sensorbench merge: Missing option '--out'",),
            ("sensorbench report: Got unexpected extra argument", "b"),
            ("sensorbench compare: Missing argument", "new"),
            "unknown backend 'nosuchsensor'",
            "unknown workload 'nosuchload'",
            "bad rate 'fast'",
            "bad --fail-on 'latency=5'",
            "make bnech: no such target",
            ("make BENCH_ARGS: sensorbench run: No such option", "--duraton"),
            "the Makefile has no variable NOSUCHVAR",
            "marker 'windoze' is not declared",
            "pytest tests/nosuchdir: no such test path",
            "no extra tset",
            "./scripts/nosuch.sh: no such script",
            "frobnicate: not a command",
            "sensorbench reprot: no such command",
            "sensorbench doctr: no such command"):
        parts = (expected,) if isinstance(expected, str) else expected
        # click words a missing argument 'NEW' or 'new' depending on its version
        assert any(all(p.lower() in line.lower() for p in parts) for line in lines), \
            f"not caught: {expected}\n{problems}"
    assert "marker 'integration'" not in problems   # a declared marker is fine


def test_the_check_accepts_what_is_right():
    good = """
on: {workflow_dispatch: {}}
jobs:
  a:
    runs-on: ${{ matrix.os }}
    strategy: {matrix: {os: [ubuntu-24.04, windows-latest]}}
    env: {OUT: "results/${{ matrix.os }}"}
    steps:
      - run: |
          sudo make bench BENCH_ARGS="-b synthetic:delay_us=500,drop=0.02,psutil -w file -r 200,max -d 1 -n 2 --out $OUT"
          .venv/bin/sensorbench compare base "$OUT" --fail-on latency_p50=25% --all --json x.json
          sensorbench merge a b c --out m && sensorbench report m --no-exports
          for p in a b; do sudo apt-get install -y "$p" || echo "not installed: $p"; done
          python -m pytest tests/unit -m "not integration" -q
          py -3.11 -m pip install -e ".[test]"
"""
    assert workflow_problems(yaml.safe_load(good), "good") == []


# -- docs: the Windows and CI pages show what the workflows run -----------------------------
def _section(title: str) -> str:
    """The text of docs/<title>.md, the page of that title."""
    return (ROOT / "docs" / f"{title.lower()}.md").read_text()


def _code_lines(section: str) -> list[tuple[str, str]]:
    """(language, line) of each command line in a section's fenced code blocks."""
    out = []
    for lang, body in re.findall(r"^[ ]*```(\w*)\n(.*?)^[ ]*```", section,
                                 re.M | re.S):
        for line in body.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                out.append((lang, line))
    return out


def _norm(s: str) -> str:
    return " ".join(s.split())


def test_windows_page_matches_the_workflow():
    section = _section("Windows")
    lines = _code_lines(section)
    assert lines, "no commands in docs/windows.md"
    problems = [f"docs/windows.md {line!r}: {p}" for lang, line in lines
                for cmd in commands(line, "pwsh" if lang in ("powershell", "pwsh", "bat", "cmd")
                                    else "bash")
                for p in check(cmd)]
    assert problems == []
    workflow = _norm((WORKFLOWS / "windows.yml").read_text())
    shown = [_norm(line.split(" #")[0]) for _, line in lines]
    for must in ('py -m pip install -e ".[test]"', "py -m pytest -m windows"):
        assert must in shown, f"docs/windows.md does not show {must}"
        assert must in workflow
    # each sensorbench command shown is one the workflow runs (up to its flags' values)
    for line in shown:
        if line.startswith("sensorbench "):
            words = line.split()
            assert _norm(" ".join(words[:4])) in workflow, line
    for word in ("elevated", "etw", "sysmon", "pywintrace", "bench/backends/sysmon/sysmon.xml",
                 ".github/workflows/windows.yml"):
        assert word in section, f"docs/windows.md does not mention {word}"
    assert re.search(r"(?i)\b(none|not|never)\b[^.]*\bLinux machines", _norm(section)), \
        "docs/windows.md must say plainly that it does not run on our Linux machines"


def test_ci_page_names_every_workflow():
    section = _section("CI")
    for name in FOUND:
        assert f".github/workflows/{name}" in section, name
    problems = [f"docs/ci.md {line!r}: {p}" for _, line in _code_lines(section)
                for cmd in commands(line) for p in check(cmd)]
    assert problems == []
    # every sensorbench command the CI section shows is run by a workflow
    runs = _norm(" ".join((WORKFLOWS / n).read_text() for n in FOUND))
    for m in re.finditer(r"`((?:\.venv/bin/)?sensorbench \w+)", section):
        sub = m.group(1).split("/")[-1]
        assert sub in runs, f"docs/ci.md shows {sub}, which no workflow runs"


def test_steps_are_checked_only_where_their_matrix_condition_holds():
    assert _applies("matrix.os == 'linux'", {"os": "linux"})
    assert not _applies("matrix.os == 'linux'", {"os": "windows"})
    assert not _applies("${{ matrix.os != 'windows' && github.event_name == 'push' }}",
                        {"os": "windows"})
    assert _applies("matrix.os == 'linux' || always()", {"os": "windows"})
    assert _applies("github.event_name == 'pull_request'", {})
