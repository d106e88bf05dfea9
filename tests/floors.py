"""The lowest versions ``pyproject.toml`` allows, as pip constraints (``name==floor``).

``make floors`` installs the project with these into a venv of its own and runs the unit
suite and one short run with its report there: a floor that does not hold (an API the code
calls that the lowest allowed version lacks) fails it. Run: ``python -m tests.floors``.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOOR = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)\s*(?:,.*)?(?:;(.*))?$")


def floors(pyproject: dict, extras: tuple[str, ...] = ("test",)) -> list[str]:
    """``name==version`` for every dependency (and those of ``extras``) with a ``>=`` floor
    whose environment marker holds here; exact pins (``==``) are kept as they are."""
    from packaging.markers import Marker

    project = pyproject["project"]
    reqs = list(project.get("dependencies", []))
    for extra in extras:
        reqs += project.get("optional-dependencies", {}).get(extra, [])
    out = []
    for req in reqs:
        spec, _, marker = req.partition(";")
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        m = FLOOR.match(spec)
        if m:
            out.append(f"{m.group(1)}=={m.group(2)}")
        elif "==" in spec:
            out.append(spec.strip())
    return out


def main() -> int:
    doc = tomllib.loads((ROOT / "pyproject.toml").read_text())
    print("\n".join(floors(doc, tuple(sys.argv[1:]) or ("test",))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
