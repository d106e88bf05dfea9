"""Content updates: the rules file a running sensor may be sent (bad-update scenario).

A *channel file* in the shape of the one behind the 2024 outage: a header declares how
many records follow and how many fields each has, then one record per line. Version 1
records have two fields, a kind index and an action:

    # sensorbench channel file v1
    records=2 fields=2
    6,report
    7,mute

``mute`` stops the sensor reporting that kind; ``report`` undoes it. The malformed file
the scenario sends declares three fields per record while its records carry two, 1000
records where two follow, and names a kind index out of range, as the 2024 file gave its interpreter fewer inputs than the
template said and the sensor read past the end of them.

``parse`` is the default: it checks the declared count against what this code knows and
each record against the declared count and the kind table, and refuses the file
(``BadContent``) before anything changes. ``parse(unsafe=True)`` is the consumer that
trusts the header: it reads the declared number of fields from every record and indexes
the kind table with what it finds, and fails on the first record that has fewer fields (in
C, a read out of bounds; here an IndexError, which the sensor host turns into the abort a
C consumer would get).
"""

from __future__ import annotations

from bench.core.errors import ParseError
from bench.core.kinds import Kind

FIELDS = 2                    # what this version of the code knows
NKINDS = max(int(k) for k in Kind) + 1
ACTIONS = ("report", "mute")


class BadContent(ParseError):
    """A content update refused by the parser (nothing was changed)."""


def channel_file(records: list[tuple[int, str]], fields: int = FIELDS,
                 declared: int | None = None) -> str:
    n = len(records) if declared is None else declared
    lines = ["# sensorbench channel file v1", f"records={n} fields={fields}"]
    lines += [f"{k},{a}" for k, a in records]
    return "\n".join(lines) + "\n"


# What the bad-update scenario sends: three fields declared, two carried, and a kind index
# past the end of the table.
MALFORMED = channel_file([(int(Kind.proc_exec), "report"), (99, "mute")], fields=3,
                         declared=1000)


def header(text: str) -> tuple[int, int, list[str]]:
    """(records declared, fields declared, the record lines) of a channel file."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    try:
        head = dict(p.split("=", 1) for p in lines[0].split())
        return int(head["records"]), int(head["fields"]), lines[1:]
    except (IndexError, KeyError, ValueError):
        raise BadContent("no 'records=N fields=M' header") from None


def parse(text: str, unsafe: bool = False) -> dict[int, str]:
    """kind -> action of a channel file; ``BadContent`` when it is malformed (or, with
    ``unsafe``, whatever reading it as the header says raises)."""
    n_records, declared, records = header(text)
    if not unsafe and n_records != len(records):
        raise BadContent(f"the header declares {n_records} records; {len(records)} follow")
    if not unsafe and declared != FIELDS:
        raise BadContent(f"records declare {declared} fields; this sensor knows {FIELDS}")
    table: list[str | None] = [None] * NKINDS
    for n, rec in enumerate(records, 1):
        parts = rec.split(",")
        if unsafe:
            # trusts the header: the last declared field is the action
            kind, action = int(parts[0]), parts[declared - 1]
            table[kind] = action
            continue
        if len(parts) != declared:
            raise BadContent(f"record {n} has {len(parts)} fields, the header says {declared}")
        try:
            kind = int(parts[0])
        except ValueError:
            raise BadContent(f"record {n}: kind {parts[0]!r} is not a number") from None
        if not 0 < kind < NKINDS:
            raise BadContent(f"record {n}: kind {kind} is out of range (1..{NKINDS - 1})")
        if parts[1] not in ACTIONS:
            raise BadContent(f"record {n}: action {parts[1]!r} is not one of {ACTIONS}")
        table[kind] = parts[1]
    return {k: a for k, a in enumerate(table) if a is not None}
