"""``sysmon``: Sysinternals Sysmon, a real tool whose kernel driver collects.

Mode kernel: Sysmon's driver (SysmonDrv: a file-system minifilter and kernel callbacks)
sees the activity, its service writes events to the Microsoft-Windows-Sysmon provider, and
we read that provider in a real-time session of our own, as a SIEM agent reads Sysmon.
What we measure is the driver-and-service pipeline plus an ETW consumer: the CPU of
Sysmon's service is not in our process tree, and is reported as ``helper_cpu_s`` when
Windows lets us read it (the service is a protected process).

Events (``parse.py``): 1 ProcessCreate (proc_exec), 5 ProcessTerminate (proc_exit), 11
FileCreate (file_create), 26 FileDeleteDetected (file_delete), 3 NetworkConnect (off in
Sysmon's default configuration, on in ours). Sysmon must run with
``bench/backends/sysmon/sysmon.xml``; its version and configuration hash go in meta.json.
"""

from __future__ import annotations

from typing import Any

from bench.backends._etw.consumer import EtwConsumer
from bench.backends.sysmon import parse
from bench.core.osapi import IS_WINDOWS


class SysmonBackend(EtwConsumer):
    name = "sysmon"
    mode = "kernel"
    mechanism = "Sysmon driver + Microsoft-Windows-Sysmon provider"
    kinds = parse.KINDS
    description = ("Sysinternals Sysmon (kernel driver) with sensorbench's configuration, "
                   "read from its ETW provider in a real-time session")
    # Sysmon's service reports from its own queue, after the fact.
    quiet_s = 1.0

    @classmethod
    def available(cls) -> str | None:
        why = super().available()
        if why or not IS_WINDOWS:
            return why
        from bench.backends.sysmon import _windows

        svc = _windows.service()
        if svc is None:
            return "Sysmon is not installed: " + _windows.INSTALL
        if svc[2] != "running":
            return f"the Sysmon service {svc[0]} is {svc[2]}: start it (sc start {svc[0]})"
        return None

    @classmethod
    def notes(cls) -> list[str]:
        if not IS_WINDOWS:
            return []
        from bench.backends.sysmon import _windows

        cfg = _windows.running_config()
        missing = [r for r in parse.NEEDED_RULES if r not in cfg.get("rules", {})]
        if missing:
            return [f"the running configuration has no rule for {', '.join(missing)}: "
                    f"Sysmon64.exe -c {_windows.CONFIG}"]
        return []

    @classmethod
    def provider_guids(cls) -> dict[str, str]:
        return {"Microsoft-Windows-Sysmon": parse.SYSMON}

    def providers(self, etw) -> list:
        # keyword mask 0: every event the configuration lets Sysmon write
        return [etw.ProviderInfo("Microsoft-Windows-Sysmon", etw.GUID(parse.SYSMON),
                                 any_keywords=0)]

    def event_ids(self) -> dict[str, list[int]]:
        return parse.EVENT_IDS

    def mapper(self):
        from bench.backends._etw import session

        return parse.SysmonMapper(self.ctx.marker, session.device_map())

    def start(self, sink) -> None:
        from bench.backends.sysmon import _windows

        self.sysmon = _windows.running_config()
        self.sysmon["our_config_sha256"] = _windows.our_config_sha256()
        self._service_cpu0 = _service_cpu_s(self.sysmon.get("service"))
        super().start(sink)

    def stats(self) -> dict[str, Any]:
        st = super().stats()
        st["sysmon"] = getattr(self, "sysmon", None)
        cpu1 = _service_cpu_s((st["sysmon"] or {}).get("service"))
        if cpu1 is not None and getattr(self, "_service_cpu0", None) is not None:
            st["helper_cpu_s"] = cpu1 - self._service_cpu0
        return st


def _service_cpu_s(service: str | None) -> float | None:
    """CPU seconds of the Sysmon service's process so far; None when Windows refuses (a
    protected process) or it is gone: no figure rather than a wrong one."""
    if not service:
        return None
    import psutil

    try:
        t = psutil.Process(psutil.win_service_get(service).pid()).cpu_times()
        return t.user + t.system
    except Exception:  # noqa: BLE001
        return None
