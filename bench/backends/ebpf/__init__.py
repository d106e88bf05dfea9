"""The kernel-mode reference eBPF sensor (registry name ``ebpf``).

Layout (libbpf-bootstrap style): ``sensor.bpf.c`` (kernel programs) and ``event.h`` (the
record they share with user space), ``ring.c`` (C ring-buffer consumer, libsbring.so),
built by this directory's Makefile into ``build/``; the user side is Python:
``libbpf`` (ctypes bindings), ``loader`` (open/load/attach, counters), ``consumer`` (the
consumer thread), ``decode`` (records -> columns), ``probe`` (what this machine allows),
``backend`` (the Backend the harness runs). ``cost.bpf.c``, ``cost.h`` and ``cost`` are the
``injected_cost`` calibration backend, built and loaded by the same machinery.
"""

from bench.backends.ebpf.backend import EbpfBackend

__all__ = ["EbpfBackend"]
