"""The small error hierarchy: each error carries one line meant for the user."""


class BenchError(Exception):
    """Anything the harness reports as one clear line and exit code 2."""

    exit_code = 2


class BadInput(BenchError):
    """The user asked for something malformed: unknown name, bad spec, rate <= 0, ..."""


class BackendUnavailable(BenchError):
    """A backend cannot run on this machine; the message says why."""


class SensorFailed(BenchError):
    """A sensor process died or reported an error during a cell."""


class WorkloadFailed(BenchError):
    """A workload process failed; the cell cannot be measured."""
