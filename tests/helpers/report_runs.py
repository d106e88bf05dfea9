"""Small real results folders shared by the report, compare, export and merge tests.

Each folder is made once per test session by the real CLI (``sensorbench run``) with the
synthetic and psutil backends, which run anywhere; tests that need a variant copy a folder
and change the copy.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from tests.helpers import sensorbench

_ROOT: Path | None = None
_DONE: dict[str, Path] = {}

# name -> arguments of `sensorbench run`. "same_a"/"same_b" are two runs of the same code;
# "slowed" is the same backend with 20 ms of injected delay (a deliberate regression);
# "aa_base" is "same_a" in 3 blocks, the base the compare tests judge "same_b" and "slowed"
# against. Those three run 3 blocks: compare's latency interval includes the t-interval
# over blocks, which with 2 blocks (1 degree of freedom, t = 12.7) is wide enough, on a
# machine under heavy steal, to hide even the 20 ms of "slowed". "same_a" keeps 2 blocks
# for the tests that tell pooled from averaged percentiles over two repeats.
# "sweep" has backends of two modes (user, calibration: synthetic and the A/A control) and
# a rate sweep for the charts.
_NET = ["-w", "network", "-r", "500", "-d", "0.5"]
RUNS = {
    "same_a": ["-b", "synthetic", *_NET, "-n", "2"],
    "aa_base": ["-b", "synthetic", *_NET, "-n", "3"],
    "same_b": ["-b", "synthetic", *_NET, "-n", "3"],
    "slowed": ["-b", "synthetic:delay_us=20000", *_NET, "-n", "3"],
    "sweep": ["-b", "synthetic,psutil,null_sensor", "-w", "network", "-r", "300,1500", "-d", "0.5",
              "-n", "2"],
}


def results(name: str) -> Path:
    """The folder of run ``name`` (made on first use). The sweep run also writes its report
    through ``run`` itself; the others skip it to save time."""
    global _ROOT
    if name not in _DONE:
        if _ROOT is None:
            _ROOT = Path(tempfile.mkdtemp(prefix="sb-report-tests-"))
            atexit.register(shutil.rmtree, _ROOT, True)
        out = _ROOT / name
        extra = [] if name == "sweep" else ["--no-report"]
        sensorbench("run", *RUNS[name], *extra, "--out", str(out), check=True, timeout=240)
        _DONE[name] = out
    return _DONE[name]


def copy(name: str, dest: Path) -> Path:
    """A private copy of a shared folder that a test may change."""
    shutil.copytree(results(name), dest, ignore=shutil.ignore_patterns(".parts", "logs"))
    return dest
