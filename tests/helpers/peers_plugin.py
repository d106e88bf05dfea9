"""Real tools made to misbehave, plugged in through SENSORBENCH_BACKENDS by the peers tests.

Each is the real tool with a command line that makes it fail the way tools fail in the
field: it exits mid-cell, refuses its arguments, or prints a format we do not know.
"""

from bench.backends.peers.forkstat import ForkstatBackend
from bench.backends.peers.libbpf_tools import ExecsnoopBackend, ExitsnoopBackend

PLUGINS = ";".join([
    "forkstat_dies=tests.helpers.peers_plugin:ForkstatDies",
    "execsnoop_badflag=tests.helpers.peers_plugin:ExecsnoopBadFlag",
    "exitsnoop_newformat=tests.helpers.peers_plugin:ExitsnoopNewFormat",
    "forkstat_slow=tests.helpers.peers_plugin:ForkstatSlow",
])


class ForkstatDies(ForkstatBackend):
    """forkstat -D 1: the tool exits on its own one second in, while the workload runs."""

    name = "forkstat_dies"

    def command(self):
        return ["forkstat", "-l", "-D", "1", "-e", "fork,exec,exit"]


class ExecsnoopBadFlag(ExecsnoopBackend):
    """An option this version does not have: argp prints usage on stderr and exits 64."""

    name = "execsnoop_badflag"

    def command(self):
        return ["execsnoop", "--no-such-option"]


class ExitsnoopNewFormat(ExitsnoopBackend):
    """exitsnoop -t adds a TIME column: a header (format) the parser does not know."""

    name = "exitsnoop_newformat"

    def command(self):
        return ["exitsnoop", "-t"]


class ForkstatSlow(ForkstatBackend):
    """The real forkstat, for the kill -9 test: nothing odd about it."""

    name = "forkstat_slow"
