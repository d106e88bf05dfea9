"""Which tamper techniques apply to which backend (bench.scenario.tamper.applies): by what
each backend declares (its mode, its ``facility``), never by how its mechanism reads."""

from __future__ import annotations

import pytest

from bench import backends
from bench.backends.base import AUDIT, Backend
from bench.core.kinds import FILE_KINDS, PROC_KINDS
from bench.scenario.tamper import FACILITY_OF, TECHNIQUES, applies

KINDS = FILE_KINDS | PROC_KINDS


@pytest.mark.parametrize("technique", ["audit-delete", "audit-disable"])
def test_audit_techniques_apply_to_the_audit_consumers(technique):
    for name in ("audit", "auditd"):
        assert applies(technique, backends.get(name), KINDS) == "", name
    for name in ("fanotify", "ebpf", "inotify", "null_sensor"):
        assert applies(technique, backends.get(name), KINDS) == "not an audit consumer", name


def test_the_declaration_chooses_not_the_description():
    class Described(Backend):          # says "audit", consumes no audit state
        name, mode, mechanism = "reader", "user", "tails the audit log file"

    class Declared(Backend):
        name, mode, mechanism, facility = "mine", "user", "netlink consumer", AUDIT

    assert applies("audit-delete", Described, KINDS) == "not an audit consumer"
    assert applies("audit-delete", Declared, KINDS) == ""
    assert applies("kill", Described, KINDS) == ""          # aimed at no facility


def test_every_facility_technique_is_a_technique():
    assert set(FACILITY_OF) <= set(TECHNIQUES)
