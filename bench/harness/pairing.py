"""How cells pair into blocks: the one rule for a fixed sweep's plan and a search's probes.

Sensor cells of one workload x rate x repetition go two by two around one no-sensor
baseline cell (sensor, baseline, sensor), which side each sensor takes decided by a coin,
so each block's two cells are adjacent in time and in random order, and a baseline serves
two blocks; a sensor left over gets a baseline of its own, before or after it by a coin.
The coin gives the same answer for the same text, so a resumed run plans the same cells.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from bench.core.settings import Spec
from bench.harness.cell import Cell


def coin(text: str) -> bool:
    """A fair coin that gives the same answer for the same text."""
    return hashlib.sha256(text.encode()).digest()[0] & 1 == 1


def rotated(specs: Sequence[Spec], r: int) -> list[Spec]:
    """The specs' order in repetition ``r``: rotated by ``r``, so slow drift of a shared
    machine spreads over every backend and each sensor shares its baseline with another
    neighbour each time."""
    specs = list(specs)
    return specs[r % len(specs):] + specs[:r % len(specs)] if specs else []


def block_cells(paired: Sequence[Spec], alone: Sequence[Spec], workload: Spec, rate: str,
                r: int, duration: float, arrivals: str) -> list[Cell]:
    """Repetition ``r`` of ``workload`` at ``rate``, in the order the cells run: each spec
    of ``alone`` in a cell without a baseline, then ``paired`` two by two around a
    baseline (module docstring). Indexes are left at 0 for the caller to number."""
    def cell(spec=None, pairs=(), baseline_id=""):
        return Cell(0, r, workload, rate, duration, spec, arrivals, pairs, baseline_id)

    cells = [cell(spec) for spec in alone]
    for i in range(0, len(paired), 2):
        group = list(paired[i:i + 2])
        if coin("+".join(s.text for s in group) + f"|{workload.text}|{rate}|{r}"):
            group.reverse()
        base = cell(None, tuple(group))
        sensors = [cell(s, baseline_id=base.id) for s in group]
        cells += ([sensors[0], base, sensors[1]] if len(group) == 2 else
                  [sensors[0], base] if coin(f"first|{base.id}") else [base, sensors[0]])
    return cells
