"""Spec strings for backends and workloads: parsing, defaults, errors."""

import pytest

from bench.core.errors import BadInput
from bench.harness.spec import parse_backend, parse_workload, split_specs


def test_defaults_and_given():
    s = parse_backend("synthetic:delay_us=500,drop=0.02")
    assert s.settings["delay_us"] == 500.0 and s.settings["drop"] == 0.02
    assert s.settings["jitter_us"] == 0.0
    assert s.text == "synthetic:delay_us=500,drop=0.02"
    assert parse_backend("psutil").text == "psutil"
    assert parse_workload("process:lifetime_ms=0").settings["lifetime_ms"] == 0.0


@pytest.mark.parametrize("text,msg", [
    ("nosuch", "unknown backend"),
    ("synthetic:delay_us", "expected key=value"),
    ("synthetic:bogus=1", "has no setting 'bogus'"),
    ("synthetic:delay_us=abc", "bad value"),
    ("synthetic:drop=1.5", "between 0 and 1"),
    ("psutil:interval_ms=0", "must be > 0"),
    ("psutil:", "nothing after"),
    (":x=1", "missing backend name"),
])
def test_bad_backend_specs(text, msg):
    with pytest.raises(BadInput, match=msg):
        parse_backend(text)


def test_bad_workload_specs():
    with pytest.raises(BadInput, match="unknown workload"):
        parse_workload("disk")
    with pytest.raises(BadInput, match="must be >= 0"):
        parse_workload("process:lifetime_ms=-1")


def test_split_keeps_settings_with_their_spec():
    assert split_specs(["synthetic:delay_us=5,drop=0.1,psutil", "psutil:interval_ms=10"]) == [
        "synthetic:delay_us=5,drop=0.1", "psutil", "psutil:interval_ms=10"]
