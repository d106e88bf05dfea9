"""Backends that misbehave on purpose, plugged in through SENSORBENCH_BACKENDS by tests."""

import os
import threading

from bench.backends.base import Backend
from bench.core.kinds import ALL_KINDS

PLUGINS = ";".join([
    "crashy=tests.helpers.plugin_backends:CrashingBackend",
    "refuses=tests.helpers.plugin_backends:RefusingBackend",
    "absent=tests.helpers.plugin_backends:AbsentBackend",
    "hangs=tests.helpers.plugin_backends:HangingBackend",
])


class CrashingBackend(Backend):
    """Starts fine, then its process dies mid-cell, as a buggy sensor would."""

    name, mode, mechanism, kinds = "crashy", "user", "test", ALL_KINDS

    def start(self, sink):
        threading.Timer(0.3, lambda: os._exit(9)).start()

    def stop(self):
        pass


class RefusingBackend(Backend):
    """The facility refuses at start (e.g. a mark or rule rejected)."""

    name, mode, mechanism, kinds = "refuses", "user", "test", ALL_KINDS

    def start(self, sink):
        raise PermissionError("the kernel refused our mark")

    def stop(self):
        pass


class AbsentBackend(Backend):
    name, mode, mechanism, kinds = "absent", "user", "test", ALL_KINDS

    @classmethod
    def available(cls):
        return "needs a facility this machine does not have"

    def start(self, sink):
        raise AssertionError("never started")

    def stop(self):
        pass


class HangingBackend(Backend):
    """Its stop never returns (a sensor stuck on a lock or a syscall): the sensor host's
    watchdog must call ``abort`` and end the process. ``abort`` leaves a file saying so."""

    name, mode, mechanism, kinds = "hangs", "user", "test", ALL_KINDS

    def start(self, sink):
        pass

    def stop(self):
        threading.Event().wait()

    def abort(self):
        open(os.path.join(self.ctx.workdir, "aborted"), "w").close()
