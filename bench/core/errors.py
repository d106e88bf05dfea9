"""The error hierarchy: every error sensorbench raises carries one line meant for a person,
and says by its class what becomes of it.

- ``UserError`` (``BadInput``, ``BackendUnavailable``): the user asked for something
  malformed or impossible here. The CLI prints the line and exits 2.
- ``CellFailed`` (``SensorFailed``, ``WorkloadFailed``): the outcome of one cell. The
  harness writes the cell as ``failed`` with the line as its reason, and the run goes on;
  it never ends a run or picks an exit code.
- ``FacilityError``: a kernel facility refused a request (audit netlink, bpf(2), a mount),
  with its errno. It is also an ``OSError``, so code that handles the system's errors
  handles it. Inside a sensor it fails the cell; at the CLI it is an exit 2.
- ``ParseError``: a record from a kernel or a tool that cannot be decoded. Also a
  ``ValueError``. Sensors count these (``parse_errors``) and go on.
"""


class BenchError(Exception):
    """Anything sensorbench raises on purpose: one clear line for the user."""

    exit_code = 2


class UserError(BenchError):
    """What the user asked for cannot be done: one line, exit code 2."""


class BadInput(UserError):
    """The user asked for something malformed: unknown name, bad spec, rate <= 0, ..."""


class BackendUnavailable(UserError):
    """A backend cannot run on this machine; the message says why."""


class CellFailed(BenchError):
    """One cell could not be measured; it becomes a ``failed`` row and the run goes on."""


class SensorFailed(CellFailed):
    """A sensor process died or reported an error during a cell."""


class WorkloadFailed(CellFailed):
    """A workload process failed; the cell cannot be measured."""


class FacilityError(BenchError, OSError):
    """A kernel facility refused a request; ``errno`` says how (``OSError(errno, line)``)."""


class ParseError(BenchError, ValueError):
    """A record or line from a kernel facility or a tool that cannot be decoded."""


class UpdateRefused(BenchError):
    """A content update the sensor (its parser, the verifier, the kernel, the tool)
    refused: nothing changed, the sensor runs on as before."""
