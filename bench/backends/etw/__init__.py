"""``etw``: the kernel's own ETW providers, read by a user-mode consumer (pywintrace).

Mode user: Windows collects in the kernel (the providers write into the session's
buffers) and our process decodes in user space, which is where Microsoft is moving
security vendors. Three manifest providers:

- Microsoft-Windows-Kernel-Process: ProcessStart (proc_exec) and ProcessStop (proc_exit);
- Microsoft-Windows-Kernel-File: create, write, rename and delete, by name;
- Microsoft-Windows-Kernel-Network: TCP connect and accept, UDP send, IPv4.

Settings: the session's buffers (``buffer_kb``, ``buffers``) and each provider's keyword
mask. Loss is the session's own count (``EventsLost``, and ``RealTimeBuffersLost`` in
meta.json), set next to the ground truth's. Mapping the events: ``parse.py``; the session
and the consumer: ``bench.backends._etw``.
"""

from __future__ import annotations

from bench.backends._etw.consumer import EtwConsumer, keywords
from bench.backends.etw import parse
from bench.core.settings import Setting

NAMES = {parse.KERNEL_PROCESS: "Microsoft-Windows-Kernel-Process",
         parse.KERNEL_FILE: "Microsoft-Windows-Kernel-File",
         parse.KERNEL_NETWORK: "Microsoft-Windows-Kernel-Network"}


class EtwBackend(EtwConsumer):
    name = "etw"
    mechanism = "ETW kernel providers (real-time session)"
    kinds = parse.KINDS
    description = ("ETW real-time session on Microsoft-Windows-Kernel-Process, -File and "
                   "-Network, consumed in Python through pywintrace")
    settings = {
        **EtwConsumer.settings,
        "process_keywords": Setting(keywords, parse.KEYWORDS[parse.KERNEL_PROCESS],
                                    "Kernel-Process keyword mask (0x10: process)"),
        "file_keywords": Setting(keywords, parse.KEYWORDS[parse.KERNEL_FILE],
                                 "Kernel-File keyword mask (create, write, delete path, "
                                 "rename path, create new file)"),
        "network_keywords": Setting(keywords, parse.KEYWORDS[parse.KERNEL_NETWORK],
                                    "Kernel-Network keyword mask (0x10: IPv4)"),
    }

    @classmethod
    def provider_guids(cls) -> dict[str, str]:
        return {name: g for g, name in NAMES.items()}

    def providers(self, etw) -> list:
        masks = {parse.KERNEL_PROCESS: self.cfg["process_keywords"],
                 parse.KERNEL_FILE: self.cfg["file_keywords"],
                 parse.KERNEL_NETWORK: self.cfg["network_keywords"]}
        return [etw.ProviderInfo(name, etw.GUID(g), any_keywords=masks[g])
                for g, name in NAMES.items()]

    def event_ids(self) -> dict[str, list[int]]:
        return parse.EVENT_IDS

    def mapper(self):
        from bench.backends._etw import session

        return parse.EtwMapper(self.ctx.marker, session.device_map())
