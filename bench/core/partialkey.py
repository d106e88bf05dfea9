"""How a backend declares that it reports a kind under a partial key, and what that means.

Some facilities cannot give an event the full correlation key of its kind
(``bench.core.kinds``): audit's SOCKADDR record of a connect names the server, never the
client's port, so the port pair cannot be formed; write(2) names no path, but the open
that made its descriptor writable does. A backend that reports such a kind declares, on
its class, the part of the key its events do carry and how far in time an event may lie
from the operation it stands for::

    partial_keys = {Kind.net_connect: PartialKey("pid+server_port", "pid + server port",
                                                 after_ms=100)}

The correlator (``bench.analysis.correlate``) then matches that kind by order within the
partial key instead of by the full key, and each results row names the key it was matched
on (``match_key``). Kinds a backend does not declare keep the full key.
"""

from __future__ import annotations

from dataclasses import dataclass

# What groups operations and events under a partial key:
# - "path": the file's path (file kinds); the operation's path equals the event's.
# - "pid+server_port": the process that made the call and the server's port; the
#   operation's pid is the workload's (every network operation is issued by the workload
#   process itself), its server port the low half of its port pair.
BY = ("path", "pid+server_port")


@dataclass(frozen=True)
class PartialKey:
    """A kind matched on part of its key, within a time window.

    An event may take an operation of its group issued at most ``after_ms`` before the
    event was seen (None: any time before, as under the full key) and at most
    ``before_ms`` after it: an event that may come first (``before_ms`` > 0) reports
    something that enables the operation (the open before a write), not the operation,
    so its ``t_seen - t_issue`` times nothing and is left out of the latencies."""

    by: str
    name: str                   # what the key is, for a reader: "pid + server port"
    after_ms: float | None
    before_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.by not in BY:
            raise ValueError(f"partial key by {self.by!r}: one of {', '.join(BY)}")
        if self.after_ms is None and not self.before_ms:
            raise ValueError("a partial key needs a window (after_ms or before_ms)")

    @property
    def timed(self) -> bool:
        """Whether a match's ``t_seen - t_issue`` is the event's latency."""
        return not self.before_ms

    @property
    def label(self) -> str:
        """The ``match_key`` of the kind's rows: the key and its window."""
        after = ("any time after" if self.after_ms is None
                 else f"≤ {self.after_ms:g} ms after")
        when = (f"≤ {self.before_ms:g} ms before or {after}" if self.before_ms else after)
        return f"{self.name} (seen {when} the op{'' if self.timed else '; untimed'})"


FULL = "full"  # the match_key of a kind matched on its full key
