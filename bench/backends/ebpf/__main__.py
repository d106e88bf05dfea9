"""``python -m bench.backends.ebpf``: what the eBPF sensor can do on this machine.

Prints whether the backend can run (the same line ``sensorbench doctor`` shows) and, hook
type by hook type, whether this kernel accepts it: the answer for ``ebpf:hooks=...``.
``--json`` for machines.
"""

import json
import sys

from bench.backends.ebpf import probe


def main(argv: list[str]) -> int:
    why = probe.missing()
    support = probe.hook_support()
    if "--json" in argv:
        print(json.dumps({"available": why is None, "reason": why or "", "hooks": support},
                         indent=2))
        return 0
    print(f"ebpf backend: {'available' if why is None else 'unavailable: ' + why}")
    for hook, status in support.items():
        print(f"  hooks={hook:<15} {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
