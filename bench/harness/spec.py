"""Backend and workload specs: ``NAME[:key=value,...]`` checked against what NAME offers."""

from __future__ import annotations

from bench import backends
from bench.core.errors import BadInput
from bench.core.settings import Spec, parse_spec, split_specs

__all__ = ["Spec", "check_runnable", "parse_backend", "parse_workload", "split_specs"]


def parse_backend(text: str) -> Spec:
    return parse_spec(text, "backend", lambda n: backends.get(n).settings)


def _workload_settings(name: str):
    from workloads import get_workload

    try:
        return get_workload(name).settings
    except KeyError as e:
        raise BadInput(str(e.args[0])) from None


def parse_workload(text: str) -> Spec:
    from workloads import get_workload

    spec = parse_spec(text, "workload", _workload_settings)
    problem = get_workload(spec.name).check_settings(spec.settings)
    if problem:
        raise BadInput(f"bad workload spec {spec.text!r}: {problem}")
    return spec


def unavailable(name: str, settings: dict) -> str | None:
    """Why a workload cannot run here (one line), or None: its engine or its program, and
    for an application recipe the counted truth, which is its ground truth."""
    from workloads import get_workload

    cls = get_workload(name)
    why = cls.unavailable(settings)
    if why or not cls.recipe:
        return why
    from bench.harness import counter

    missing = counter.missing()
    return f"the counted truth cannot run: {missing}" if missing else None


def check_runnable(specs: list[Spec]) -> None:
    """BadInput (one line) when none of the workload specs can run here (the native engine
    asked for and not built); those that cannot among others that can become ``skipped``
    rows, as an unavailable backend does."""
    from workloads import get_workload

    why = [get_workload(w.name).unavailable(w.settings) for w in specs]
    if specs and all(why):
        raise BadInput(f"workload {specs[0].text}: {why[0]}")


def workload_kinds(name: str) -> frozenset:
    """The kinds a workload produces (for code above the harness, which runs none)."""
    from workloads import get_workload

    return get_workload(name).kinds
