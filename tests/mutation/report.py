"""The mutation score of the analysis and results layers, and every mutant that survived.

``make mutation`` runs mutmut over ``bench/analysis`` and ``bench/results`` (the pyproject's
``[tool.mutmut]``) with the unit suite, then this module reads mutmut's verdicts and writes
``score.json`` and ``README.md`` into ``--out``: the score, per module, and each surviving
mutant with its change. A survivor that ``accepted.toml`` explains (it changes no behaviour,
or what it changes is not worth pinning) is listed with that reason; any other survivor is
*unexplained*, listed with its diff, and is what the next test should kill. Exit 1 when the
score is below ``--floor``.

Score: mutants the unit suite detected (a test failed, or it ran past mutmut's timeout)
over all mutants. A mutant no unit test reaches ("no tests") is a survivor: code no fast
test runs is code whose breakage nobody sees.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DETECTED = {"killed", "timeout", "segfault"}   # the test run failed, one way or another
UNDETECTED = {"survived", "no tests", "suspicious"}
SUFFIX = "__mutmut_"


@dataclass
class Mutant:
    name: str          # bench.analysis.blocks.x_paired__mutmut_12
    status: str        # mutmut's word: killed, survived, no tests, timeout, ...
    diff: str = ""     # unified diff of the function, for survivors

    @property
    def module(self) -> str:
        return self.name.rsplit(".", 1)[0]   # the function's part has no dots

    @property
    def function(self) -> str:
        """The mutated function's key without the mutant's number (stable across runs)."""
        return self.name.rsplit(SUFFIX, 1)[0]

    @property
    def change(self) -> tuple[str, str]:
        """(the original line, the mutated line), stripped: what an explanation names."""
        old = [ln[1:].strip() for ln in self.diff.splitlines()
               if ln.startswith("-") and not ln.startswith("---")]
        new = [ln[1:].strip() for ln in self.diff.splitlines()
               if ln.startswith("+") and not ln.startswith("+++")]
        return " / ".join(old), " / ".join(new)


@dataclass
class Reason:
    function: str
    old: str
    new: str
    why: str
    used: int = 0


@dataclass
class Score:
    mutants: list[Mutant]
    reasons: list[Reason] = field(default_factory=list)

    @property
    def counts(self) -> Counter:
        return Counter(m.status for m in self.mutants)

    @property
    def detected(self) -> int:
        return sum(m.status in DETECTED for m in self.mutants)

    @property
    def total(self) -> int:
        return sum(m.status != "skipped" for m in self.mutants)

    @property
    def score(self) -> float:
        return self.detected / self.total if self.total else float("nan")

    @property
    def unchecked(self) -> list[Mutant]:
        """Mutants mutmut has no verdict on: the run did not finish."""
        return [m for m in self.mutants if m.status not in DETECTED | UNDETECTED | {"skipped"}]

    @property
    def survivors(self) -> list[Mutant]:
        return [m for m in self.mutants if m.status in UNDETECTED]

    def reason(self, m: Mutant) -> Reason | None:
        old, new = m.change
        for r in self.reasons:
            if r.function == m.function and r.old == old and r.new == new:
                return r
        return None

    def per_module(self) -> dict[str, Counter]:
        out: dict[str, Counter] = {}
        for m in self.mutants:
            c = out.setdefault(m.module, Counter())
            c[m.status] += 1
        return dict(sorted(out.items()))


def load_reasons(path: Path) -> list[Reason]:
    """``accepted.toml``: one ``[[mutant]]`` per explained survivor, named by its function
    and its change (not its number, which moves when the function changes)."""
    if not path.exists():
        return []
    doc = tomllib.loads(path.read_text())
    return [Reason(e["function"], e["from"], e["to"], e["why"]) for e in doc.get("mutant", [])]


def load_mutants(with_diffs: bool = True) -> list[Mutant]:
    """mutmut's verdicts from ``mutants/`` (run from the project root after ``mutmut run``)."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    out = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        for name, code in sorted(data.exit_code_by_key.items()):
            m = Mutant(name, status_by_exit_code[code])
            if with_diffs and m.status in UNDETECTED:
                m.diff = get_diff_for_mutant(name, path=path)
            out.append(m)
    return out


def render(s: Score, floor: float) -> str:
    """The report page (Markdown)."""
    c = s.counts
    lines = [
        "# Mutation score of the analysis and results layers", "",
        "Written by `make mutation` (mutmut over `bench/analysis` and `bench/results`, "
        "the unit suite only). See the methodology (docs/methodology.md, \"Mutation "
        "testing\") for what the score means.", "",
        f"**Score: {s.detected} of {s.total} mutants detected = {s.score:.1%}** "
        f"(floor {floor:.0%}). Killed {c['killed']}, timed out {c['timeout']}, "
        f"survived {c['survived']}, reached by no unit test {c['no tests']}"
        + (f", suspicious {c['suspicious']}" if c["suspicious"] else "") + ".", "",
        "| module | mutants | detected | survived | no tests | score |", "|---|---|---|---|---|---|",
    ]
    for mod, mc in s.per_module().items():
        total = sum(n for st, n in mc.items() if st != "skipped")
        det = sum(mc[x] for x in DETECTED)
        lines.append(f"| `{mod}` | {total} | {det} | {mc['survived']} | {mc['no tests']} | "
                     f"{det / total:.1%} |" if total else f"| `{mod}` | 0 | | | | |")
    explained = [(m, s.reason(m)) for m in s.survivors]
    known = [(m, r) for m, r in explained if r is not None]
    unknown = [m for m, r in explained if r is None]
    lines += ["", f"## Survivors explained ({len(known)})", "",
              "Each changes no behaviour (equivalent) or changes one that is not worth "
              "pinning; the reason is kept in `tests/mutation/accepted.toml`.", ""]
    if known:
        lines += ["| mutant | change | why |", "|---|---|---|"]
        for m, r in known:
            old, new = m.change
            lines.append(f"| `{m.name}` ({m.status}) | `{_cell(old)}` → `{_cell(new)}` | "
                         f"{_cell(r.why)} |")
    lines += ["", f"## Survivors unexplained ({len(unknown)})", "",
              "No unit test fails on these, and no reason says why none should: each is a "
              "test to write (or a reason to add).", ""]
    for m in unknown:
        lines += [f"### `{m.name}` ({m.status})", "", "```diff", m.diff.strip(), "```", ""]
    stale = [r for r in s.reasons if not any(s.reason(m) is r for m in s.survivors)]
    if stale:
        lines += ["", f"## Reasons no survivor needs ({len(stale)})", "",
                  "These mutants are now killed, or their code changed: the reasons can go.", ""]
        lines += [f"- `{r.function}`: `{_cell(r.old)}` → `{_cell(r.new)}`" for r in stale]
    return "\n".join(lines).rstrip() + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("`", "'")


def as_json(s: Score, floor: float) -> dict:
    return {
        "score": s.score, "floor": floor, "detected": s.detected, "total": s.total,
        "counts": dict(s.counts),
        "modules": {mod: dict(mc) for mod, mc in s.per_module().items()},
        "survivors": [{"name": m.name, "status": m.status, "change": list(m.change),
                       "why": (s.reason(m).why if s.reason(m) else None)}
                      for m in s.survivors],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for score.json and README.md")
    p.add_argument("--floor", type=float, default=0.85, help="least score that passes (0-1)")
    p.add_argument("--accepted", type=Path, default=HERE / "accepted.toml")
    a = p.parse_args(argv)
    s = Score(load_mutants(), load_reasons(a.accepted))
    if not s.mutants:
        print("mutation: no mutmut results under mutants/ (run `mutmut run` first)",
              file=sys.stderr)
        return 2
    if s.unchecked:
        print(f"mutation: {len(s.unchecked)} mutants have no verdict: the run did not finish",
              file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "README.md").write_text(render(s, a.floor))
    (a.out / "score.json").write_text(json.dumps(as_json(s, a.floor), indent=2) + "\n")
    unexplained = sum(s.reason(m) is None for m in s.survivors)
    print(f"mutation score {s.score:.1%} ({s.detected} of {s.total}); {len(s.survivors)} "
          f"survivors, {unexplained} unexplained; written to {a.out}")
    if s.score < a.floor:
        print(f"mutation: the score {s.score:.1%} is below the floor {a.floor:.0%}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
