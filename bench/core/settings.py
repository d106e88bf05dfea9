"""Typed settings of backends and workloads, and the ``NAME[:key=value,...]`` spec syntax."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from bench.core.errors import BadInput


@dataclass(frozen=True)
class Setting:
    """One setting: its type, default and a line of help."""

    type: Callable[[str], Any]
    default: Any
    help: str
    check: Callable[[Any], str | None] | None = None  # returns an error message or None


def positive(v) -> str | None:
    return None if v > 0 else "must be > 0"


def non_negative(v) -> str | None:
    return None if v >= 0 else "must be >= 0"


def probability(v) -> str | None:
    return None if 0 <= v <= 1 else "must be between 0 and 1"


def one_of(*choices: str) -> Callable[[Any], str | None]:
    """A check that accepts only ``choices`` (and names them when it refuses)."""
    def check(v) -> str | None:
        return None if v in choices else f"must be one of {', '.join(map(str, choices))}"
    return check


# The backend and spec of a no-sensor cell: the baseline every sensor cell is paired with.
# A role, not a backend: no backend is registered under this name.
BASELINE = "baseline"


@dataclass(frozen=True)
class Spec:
    """A parsed spec: the name, every setting (defaults filled) and what the user wrote."""

    name: str
    settings: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    given: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> str:
        if not self.given:
            return self.name
        return self.name + ":" + ",".join(f"{k}={v}" for k, v in self.given)


def parse_spec(text: str, what: str, lookup: Callable[[str], dict[str, Setting]]) -> Spec:
    """Parse ``NAME[:key=value,...]``; ``lookup(name)`` gives the settings or raises BadInput."""
    text = text.strip()
    name, _, rest = text.partition(":")
    if not name:
        raise BadInput(f"bad {what} spec {text!r}: missing {what} name")
    settings = lookup(name)
    values = {k: s.default for k, s in settings.items()}
    given: list[tuple[str, str]] = []
    items = [p.strip() for p in rest.split(",") if p.strip()] if rest else []
    if ":" in text and not items:
        raise BadInput(f"bad {what} spec {text!r}: nothing after ':'")
    for item in items:
        key, eq, raw = item.partition("=")
        key, raw = key.strip(), raw.strip()
        if not eq or not key:
            raise BadInput(f"bad {what} spec {text!r}: expected key=value, got {item!r}")
        setting = settings.get(key)
        if setting is None:
            known = ", ".join(settings) or "none"
            raise BadInput(f"{what} {name!r} has no setting {key!r} (settings: {known})")
        try:
            value = setting.type(raw)
        except (TypeError, ValueError):
            raise BadInput(f"bad value for {name}:{key}: {raw!r}") from None
        problem = setting.check(value) if setting.check else None
        if problem:
            raise BadInput(f"bad value for {name}:{key}={raw}: {problem}")
        values[key] = value
        given.append((key, raw))
    return Spec(name, values, tuple(given))


def split_specs(items: list[str]) -> list[str]:
    """Accept both ``-b a -b b`` and ``-b a,b`` with settings kept whole: a comma starts
    a new spec only when what follows is a name, not ``key=value``."""
    out: list[str] = []
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            if out and "=" in part and ":" not in part:
                out[-1] += "," + part
            else:
                out.append(part)
    return out
