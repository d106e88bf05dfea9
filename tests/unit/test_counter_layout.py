"""The counted truth's loader mirrors count.h by layout: a kind's slot in the BPF counters
is its Kind value, the unpaired and pids-full slots and the slot count follow them, and the config is one
u64. A change to one side without the other fails here, not as wrong counts."""

from __future__ import annotations

import re
import struct

from bench.core.kinds import Kind
from bench.harness import counter

HEADER = (counter.HERE / "count.h").read_text()


def _define(name: str) -> int:
    m = re.search(rf"#define {name}\s+(\d+)", HEADER)
    assert m, f"count.h defines no {name}"
    return int(m.group(1))


def test_each_kinds_slot_is_its_kind_value():
    for k in Kind:
        assert _define(f"SB_C_{k.name.upper()}") == k.value, k.name
    assert _define("SB_C_NKINDS") == max(Kind) + 1


def test_the_slots_after_the_kinds_and_the_slot_count_are_the_loaders():
    assert _define("SB_C_UNPAIRED") == counter.UNPAIRED
    assert _define("SB_C_PIDS_FULL") == counter.PIDS_FULL == counter.UNPAIRED + 1
    assert _define("SB_C_NSLOTS") == counter.NSLOTS == counter.PIDS_FULL + 1


def test_the_config_is_one_u64():
    body = re.search(r"struct sb_count_config \{(.*?)\};", HEADER, re.S).group(1)
    fields = re.findall(r"__u64 \w+;", body)
    assert len(fields) == 1 and struct.calcsize(counter.CONFIG_FMT) == 8


UNISTD = {"x86_64": "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
          "aarch64": "/usr/include/aarch64-linux-gnu/asm/unistd_64.h"}


def test_the_syscall_numbers_are_this_architectures():
    """count.h's own table against the C library's headers for the machine's architecture:
    a wrong number counts another system call, or none."""
    import os
    import platform

    import pytest

    path = UNISTD.get(platform.machine())
    if path is None or not os.path.exists(path):
        pytest.skip(f"no asm/unistd_64.h for {platform.machine()} (linux-libc-dev)")
    host = {m.group(1): int(m.group(2)) for m in
            re.finditer(r"#define __NR_(\w+)\s+(\d+)", open(path).read())}
    arch = "x86" if platform.machine() == "x86_64" else "arm64"
    block = HEADER.split(f"defined(__TARGET_ARCH_{arch})", 1)[1].split("#el", 1)[0]
    ours = {m.group(1): int(m.group(2)) for m in
            re.finditer(r"#define SB_C_NR_(\w+)\s+(-?\d+)", block)}
    assert len(ours) >= 20
    wrong = {n: (v, host.get(n)) for n, v in ours.items()
             if (v >= 0 and host.get(n) != v) or (v < 0 and n in host)}
    assert wrong == {}
