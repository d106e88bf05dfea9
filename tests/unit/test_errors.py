"""Every exception class sensorbench defines belongs to the hierarchy of bench.core.errors,
and what a raise says becomes the right thing: a user error is one line and exit 2, a
failed cell is a row (tested with the harness in test_run), a refusal of the kernel is
still an OSError for the code that handles those."""

from __future__ import annotations

import ast
import importlib

from bench.core import errors
from tests.helpers import ROOT

# Control flow, never shown to anyone: a signal abandons a sensor's start (BaseException so
# that no `except Exception` in a backend's start can swallow it).
NOT_ERRORS = {"bench.harness.sensorhost.Terminate"}


def _exception_classes():
    for path in sorted((ROOT / "bench").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                cls = getattr(importlib.import_module(module), node.name, None)
                if isinstance(cls, type) and issubclass(cls, BaseException):
                    yield f"{module}.{node.name}", cls


def test_every_exception_class_is_in_the_hierarchy():
    found = dict(_exception_classes())
    assert "bench.backends.audit.netlink.AuditError" in found
    outside = [n for n, c in found.items()
               if not issubclass(c, errors.BenchError) and n not in NOT_ERRORS]
    assert outside == []


def test_the_branches_say_what_becomes_of_an_error():
    from bench.backends.audit.netlink import AuditError
    from bench.backends.audit.parse import RecordError

    assert issubclass(errors.BadInput, errors.UserError)
    assert issubclass(errors.BackendUnavailable, errors.UserError)
    for outcome in (errors.SensorFailed, errors.WorkloadFailed):
        assert issubclass(outcome, errors.CellFailed)
        assert not issubclass(outcome, errors.UserError)
    e = AuditError(1, "AUDIT_ADD_RULE: Operation not permitted")
    assert isinstance(e, OSError) and e.errno == 1 and isinstance(e, errors.FacilityError)
    assert isinstance(RecordError("no audit(...) header"), ValueError)
