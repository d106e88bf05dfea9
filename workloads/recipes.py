"""Application recipes: real programs doing real work, as workloads (``-w copy``).

A recipe cannot record its operations the way the synthetic workloads do (``cp`` keeps no
ledger), so its truth is the counted one: the harness counts in the kernel what the cell's
cgroup did, kind by kind (``bench.harness.counter``), and its cost is the recipe's wall time
against baselines of the same recipe. Each recipe:

- makes its inputs in the cell's directory in a process of their own, before the cell's
  sensor starts (``prepare``, ``python -m workloads --prepare``; ``workloads._inputs``:
  deterministic, sized by ``scale``), so that neither the count nor the sensor sees them;
- runs its steps, each a program with its arguments, in the cgroup, one after the other,
  with HOME and TMPDIR inside the cell's directory and no proxy: nothing it does lands
  outside the cell or goes beyond 127.0.0.1;
- fails with the step's last lines of stderr when a step exits non-zero.

``install`` is ``pip install --no-index`` of a generated wheel into a venv in the cell, then
``pip uninstall``, rather than ``dpkg -i`` of a generated .deb: dpkg writes the machine's
package database and its files outside the cell (a .deb installs to /), pip into a venv
touches nothing outside it.
"""

from __future__ import annotations

import http.server
import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

from bench.core.kinds import ALL_KINDS, FILE_KINDS, PROC_KINDS, Kind
from bench.core.settings import Setting, positive
from workloads import _inputs
from workloads.base import Workload

STDERR_LINES = 5      # the tool's last lines of stderr a failed step reports
STEP_TIMEOUT_S = 600  # a step that takes longer has hung
ERRLOG = "step-stderr.log"   # in the cell's directory: each step's stderr, for its failure


class StepFailed(Exception):
    """A recipe's program exited non-zero: its argv, exit code and last stderr lines."""


SCALE = Setting(int, 1, "size of the generated input (1: 1,200 small files and "
                "8 MiB in large ones for copy/archive/find; 24 C files; a 60-module wheel; "
                "20 downloads; grows linearly)", positive)


def _which(tool: str) -> str | None:
    return tool if os.path.isabs(tool) and os.access(tool, os.X_OK) else shutil.which(tool)


class Recipe(Workload):
    """A real program's work on generated input (see the module docstring)."""

    recipe = True
    rows_per_op = 0.0
    settings: dict[str, Setting] = {"scale": SCALE}
    # (program, Debian package that has it): a missing one skips the cell, naming the package
    tools: tuple[tuple[str, str], ...] = ()

    def __init__(self, ledger, marker: str, workdir: str, settings: dict | None = None,
                 seed: int = 0):
        super().__init__(ledger, marker, workdir, settings)
        self.seed = seed
        self.root = Path(workdir)
        self.inp = self.root / "in"      # what prepare made
        self.run_dir = self.root / "run"  # where the steps work (their cwd)
        self.steps_run: list[dict] = []

    @classmethod
    def engine(cls, cfg: dict) -> str:
        return "recipe"

    @classmethod
    def check_settings(cls, cfg: dict) -> str | None:
        return None

    @classmethod
    def unavailable(cls, cfg: dict) -> str | None:
        for tool, package in cls.tools:
            if _which(tool) is None:
                return f"needs {tool} (Debian package {package})"
        return None

    def prepare(self) -> None:
        """Make the recipe's inputs (a process of its own, before the sensor starts)."""

    def start(self) -> None:
        """What the steps need running beside them (a server), once the inputs exist."""

    def steps(self) -> list[list[str]]:
        """The programs to run, in order, each as an argv."""
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        """The steps' environment: the caller's, with home, temporary files and caches in
        the cell and every proxy variable gone (loopback only)."""
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(HOME=str(self.root / "home"), TMPDIR=str(self.root / "tmp"), LC_ALL="C",
                   PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
                   PYTHONDONTWRITEBYTECODE="")
        return env

    def make_inputs(self) -> None:
        """The preparation: the steps' directories, then the recipe's inputs."""
        for d in ("home", "tmp", "run"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        # Made here, outside the cgroup: each step opens it again (truncating it), which
        # creates nothing, so the count holds no file of the harness's own (cmd:argv=true
        # counted one file_create).
        (self.root / ERRLOG).touch()
        self.prepare()

    def setup(self) -> None:
        self.start()

    def run(self) -> None:
        """Run every step; StepFailed at the first that exits non-zero."""
        env = self.env()
        errlog = self.root / ERRLOG
        for argv in self.steps():
            with open(errlog, "wb") as err:
                p = subprocess.run(argv, cwd=self.run_dir, env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=err,
                                   timeout=STEP_TIMEOUT_S)
            self.steps_run.append({"argv": argv[0], "returncode": p.returncode})
            if p.returncode != 0:
                lines = errlog.read_text(errors="replace").strip().splitlines()
                last = " | ".join(lines[-STDERR_LINES:]) or "no stderr"
                raise StepFailed(f"{shlex.join(argv)[:200]} exited with {p.returncode}: "
                                 f"{last}")

    def op(self, i: int, t_intended: int) -> None:
        raise TypeError("a recipe runs its steps (run), not operations on a schedule")


class Copy(Recipe):
    name = "copy"
    description = "cp -r of a generated tree (many small files, a few large ones)"
    kinds = frozenset({Kind.file_create, Kind.file_write}) | PROC_KINDS
    tools = (("cp", "coreutils"),)

    def prepare(self) -> None:
        _inputs.tree(self.inp / "tree", self.cfg["scale"], self.seed)

    def steps(self) -> list[list[str]]:
        # --reflink=never: on a file system that clones (btrfs, XFS) cp would otherwise
        # share the extents and write nothing, and the recipe would not copy
        return [["cp", "-r", "--reflink=never", str(self.inp / "tree"),
                 str(self.run_dir / "copy")]]


class Archive(Recipe):
    name = "archive"
    description = "tar czf of a generated tree, then tar xzf into a new directory"
    kinds = frozenset({Kind.file_create, Kind.file_write}) | PROC_KINDS
    tools = (("tar", "tar"), ("gzip", "gzip"))

    def prepare(self) -> None:
        _inputs.tree(self.inp / "tree", self.cfg["scale"], self.seed)
        (self.run_dir / "x").mkdir(parents=True)

    def steps(self) -> list[list[str]]:
        tgz = str(self.run_dir / "tree.tgz")
        return [["tar", "czf", tgz, "-C", str(self.inp), "tree"],
                ["tar", "xzf", tgz, "-C", str(self.run_dir / "x")]]


class Build(Recipe):
    name = "build"
    description = "make -j over generated C files with cc"
    kinds = frozenset({Kind.file_create, Kind.file_write, Kind.file_delete}) | PROC_KINDS
    tools = (("make", "make"), ("cc", "gcc"))

    def prepare(self) -> None:
        _inputs.c_project(self.run_dir / "src", self.cfg["scale"], self.seed)

    def steps(self) -> list[list[str]]:
        jobs = str(len(os.sched_getaffinity(0)))
        return [["make", "-s", f"-j{jobs}", "-C", str(self.run_dir / "src")]]


class Find(Recipe):
    name = "find"
    description = "find and grep -r over a generated tree, three passes"
    kinds = PROC_KINDS
    tools = (("find", "findutils"), ("grep", "grep"))
    PASSES = 3   # one pass over a cached tree is tens of ms: too short to time alone

    def prepare(self) -> None:
        _inputs.tree(self.inp / "tree", self.cfg["scale"], self.seed)

    def steps(self) -> list[list[str]]:
        tree = str(self.inp / "tree")
        return [["find", tree, "-type", "f", "-name", "*.txt"],
                ["grep", "-r", "-l", _inputs.NEEDLE, tree]] * self.PASSES


class Install(Recipe):
    name = "install"
    description = "pip install --no-index of a generated wheel into a venv, then uninstall"
    kinds = FILE_KINDS | PROC_KINDS

    @classmethod
    def unavailable(cls, cfg: dict) -> str | None:
        import importlib.util

        for mod, package in (("venv", "python3-venv"), ("pip", "python3-pip")):
            if importlib.util.find_spec(mod) is None:
                return f"needs the Python module {mod} (Debian package {package})"
        return None

    def prepare(self) -> None:
        _inputs.wheel(self.inp, self.cfg["scale"], self.seed)
        # the venv is the machine the package goes into, not the work: made beforehand,
        # without pip of its own (the harness's pip installs into it with --python)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip",
                        str(self.root / "venv")], check=True, env=self.env(),
                       stdout=subprocess.DEVNULL)

    def steps(self) -> list[list[str]]:
        pip = [sys.executable, "-m", "pip", "--python", str(self.root / "venv" / "bin" / "python")]
        return [pip + ["install", "--no-index", "--no-deps", str(_inputs.wheel_path(self.inp))],
                pip + ["uninstall", "-y", "sb_recipe_pkg"]]


class Launch(Recipe):
    name = "launch"
    description = "start a program N times: /bin/true, then python3 -c pass"
    kinds = PROC_KINDS
    tools = (("sh", "dash"), ("true", "coreutils"))
    TRUE_N, PYTHON_N = 200, 20   # at scale 1

    def steps(self) -> list[list[str]]:
        s = self.cfg["scale"]
        loop = 'i=0; while [ "$i" -lt {n} ]; do {cmd}; i=$((i+1)); done'
        # python3 is the interpreter itself, not what PATH finds: a version manager's
        # shim (pyenv's) would start dozens of programs of its own before Python
        true, py = _which("true"), getattr(sys, "_base_executable", sys.executable)
        return [["sh", "-c", loop.format(n=self.TRUE_N * s, cmd=shlex.quote(true))],
                ["sh", "-c", loop.format(n=self.PYTHON_N * s,
                                         cmd=f"{shlex.quote(py)} -c pass")]]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class Download(Recipe):
    name = "download"
    description = ("curl of generated files from an HTTP server on 127.0.0.1 (one "
                   "connection per file)")
    kinds = frozenset({Kind.file_create, Kind.file_write, Kind.net_connect,
                       Kind.net_accept}) | PROC_KINDS
    tools = (("curl", "curl"),)

    def prepare(self) -> None:
        _inputs.downloads(self.inp / "www", self.cfg["scale"], self.seed)

    def start(self) -> None:
        # Loopback only, a port the kernel chooses; HTTP/1.0 closes each connection, so
        # every file is a connect and an accept. A thread of this process: it stops with
        # it, and its accepts are the cell's (it runs in the cgroup once the recipe does).
        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), partial(_Quiet, directory=str(self.inp / "www")))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def steps(self) -> list[list[str]]:
        port = self.server.server_address[1]
        argv = ["curl", "--silent", "--show-error", "--fail", "--noproxy", "*"]
        for n in sorted(p.name for p in (self.inp / "www").iterdir()):
            argv += ["-o", str(self.run_dir / n), f"http://127.0.0.1:{port}/{n}"]
        return [argv]

    def teardown(self) -> None:
        server = getattr(self, "server", None)
        if server is not None:
            server.shutdown()
            server.server_close()


def _free_loopback_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StressNg(Recipe):
    name = "stress-ng"
    description = "stress-ng's open, fork, exec and sock stressors with bounded op counts"
    kinds = frozenset({Kind.file_create, Kind.file_write, Kind.file_delete, Kind.net_connect,
                       Kind.net_accept}) | PROC_KINDS
    tools = (("stress-ng", "stress-ng"),)
    OPS = {"open": 2000, "fork": 300, "exec": 100, "sock": 300}   # at scale 1

    def start(self) -> None:
        # sock binds a port of its own choosing: one the kernel found free on loopback
        self.port = _free_loopback_port()

    def steps(self) -> list[list[str]]:
        argv = ["stress-ng", "-q", "--temp-path", str(self.run_dir), "--sock-if", "lo",
                "--sock-port", str(self.port)]
        for name, n in self.OPS.items():
            argv += [f"--{name}", "1", f"--{name}-ops", str(n * self.cfg["scale"])]
        return [argv]


class Cmd(Recipe):
    name = "cmd"
    description = "the user's own command, run as given (cmd:argv=..., split as a shell would)"
    kinds = ALL_KINDS
    settings = {"argv": Setting(str, "", "the command line, split as a shell would (no "
                                "commas: they separate settings)", lambda v: None if
                                v.strip() else "must name a command"),
                "scale": SCALE}

    @classmethod
    def check_settings(cls, cfg: dict) -> str | None:
        return None if cfg.get("argv", "").strip() else "cmd needs argv=COMMAND"

    @classmethod
    def unavailable(cls, cfg: dict) -> str | None:
        argv = shlex.split(cfg.get("argv", ""))
        if argv and _which(argv[0]) is None:
            return f"needs {argv[0]} (not found on PATH)"
        return None

    def steps(self) -> list[list[str]]:
        return [shlex.split(self.cfg["argv"])]


RECIPES = {c.name: c for c in (Copy, Archive, Build, Find, Install, Launch, Download,
                               StressNg, Cmd)}
