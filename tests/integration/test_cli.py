"""The CLI's bad inputs end in one clear line and exit code 2, never a traceback."""

import json
import os

import pytest

from tests.helpers import cli_in_process, sensorbench
from tests.helpers.plugin_backends import PLUGINS


@pytest.fixture
def plugins(monkeypatch):
    """The test plugins registered in this process, as SENSORBENCH_BACKENDS registers them
    in a CLI process of its own."""
    from bench import backends

    for item in PLUGINS.split(";"):
        name, _, target = item.partition("=")
        monkeypatch.setitem(backends.REGISTRY, name, target)


@pytest.mark.parametrize("args,msg", [
    (["run", "-b", "nosuch"], "unknown backend 'nosuch'"),
    (["run", "-b", "synthetic:delay_us=oops"], "bad value for synthetic:delay_us"),
    (["run", "-b", "synthetic:nope=1"], "has no setting 'nope'"),
    (["run", "-b", "synthetic", "-w", "disk"], "unknown workload 'disk'"),
    (["run", "-b", "synthetic", "-r", "0"], "must be > 0"),
    (["run", "-b", "synthetic", "-r", "-5"], "must be > 0"),
    (["run", "-b", "synthetic", "-r", "fast"], "bad rate 'fast'"),
    (["run", "-b", "synthetic", "-d", "0"], "bad duration"),
    (["run", "-b", "synthetic", "-n", "0"], "bad repeat"),
    (["run", "-b", "synthetic", "--out", "/proc/sensorbench-results"], "cannot write results"),
    (["run", "-b", "synthetic", "--resume"], "--resume needs --out"),
    (["run", "-b", "absent"], "backend absent is unavailable: needs a facility"),
    (["run", "-b", "synthetic", "-n", "1"], "overhead needs at least 2 blocks"),
    (["run", "-b", "synthetic", "-r", "100", "-d", "0.5"], "a block needs at least 100"),
    (["run", "-b", "synthetic", "--overhead-limit", "-1"], "bad --overhead-limit"),
])
def test_bad_input_one_line_exit_2(plugins, args, msg):
    r = cli_in_process(*args)   # refused before any work: no process of its own needed
    assert r.returncode == 2, r.stderr
    assert msg in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_unknown_option_is_usage_error():
    r = sensorbench("run", "--bogus")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_existing_results_need_resume(tmp_path):
    out = tmp_path / "r"
    sensorbench("run", "-b", "synthetic", "-w", "network", "-r", "100", "-d", "0.3",
                "--no-baseline", "--no-report", "--out", str(out), check=True)
    r = sensorbench("run", "-b", "synthetic", "-w", "network", "-r", "100", "-d", "0.3",
                    "--no-baseline", "--no-report", "--out", str(out))
    assert r.returncode == 2 and "pass --resume" in r.stderr


def test_doctor_json_lists_every_backend_with_reason():
    r = sensorbench("doctor", "--json", env={"SENSORBENCH_BACKENDS": PLUGINS}, check=True)
    doc = json.loads(r.stdout)
    by_name = {b["name"]: b for b in doc["backends"]}
    assert by_name["synthetic"]["available"] is True
    assert by_name["absent"]["available"] is False
    assert by_name["absent"]["reason"] == "needs a facility this machine does not have"
    assert doc["machine"]["kernel"] == os.uname().release


def test_list_shows_settings():
    r = sensorbench("list", check=True)
    assert "interval_ms=100.0" in r.stdout and "lifetime_ms=2.0" in r.stdout
