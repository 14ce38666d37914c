"""The consolidated ledger (台账): every unit's current accepted rows for a deliverable and period.

The reads (``chalicelib.services.queries.current_ledger``): one Query finds the units' current versions
(the pointer index), then one Query per unit reads that version's rows: readers never see a
half-replaced list, and nothing is ever scanned. What the rows mean is decided here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from chalicelib.domain.registry import Campaign
from chalicelib.domain.store import DeliveryPointer, DeliveryRow


@dataclass(frozen=True)
class LedgerRow:
    unit_code: str
    unit_name: str
    period: str
    version_id: str
    row: int | None
    sheet: str | None
    fields: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "unit": {"code": self.unit_code, "name": self.unit_name},
            "period": self.period,
            "version_id": self.version_id,
            "sheet": self.sheet,
            "row": self.row,
            **self.fields,
        }


def in_registry_order(campaign: Campaign, pointers: Iterable[DeliveryPointer]) -> list[DeliveryPointer]:
    """Pointers with a current version, in the registry's order of units (the ledger's order)."""
    order = {unit.code: n for n, unit in enumerate(campaign.units)}
    return sorted((p for p in pointers if p.current_version), key=lambda p: order.get(p.unit, len(order)))


def ledger_rows(campaign: Campaign, pointer: DeliveryPointer, rows: Iterable[DeliveryRow]) -> list[LedgerRow]:
    """Pure: one unit's current version's rows as ledger rows."""
    unit = campaign.unit(pointer.unit)
    return [
        LedgerRow(
            unit_code=pointer.unit,
            unit_name=unit.name if unit else pointer.unit,
            period=pointer.period,
            version_id=row.version_id,
            row=row.row,
            sheet=row.sheet,
            fields=dict(row.fields),
        )
        for row in rows
    ]


def is_overdue(row: LedgerRow, as_of: date) -> bool:
    """A dated 完成时限 that has passed and a problem still open; long-term items (长期坚持 …) never are."""
    deadline = row.fields.get("deadline")
    # Issue 15: a row whose problem is done, long-term or closed is not overdue (only open / reopened ones are).
    if row.fields.get("problem_status") not in (None, "open", "reopened"):
        return False
    if row.fields.get("long_term") or not isinstance(deadline, str):
        return False
    try:
        return date.fromisoformat(deadline) < as_of
    except ValueError:
        return False


def select(
    rows: Sequence[LedgerRow],
    *,
    unit_code: str | None = None,
    aspect: str | None = None,
    overdue_as_of: date | None = None,
) -> list[LedgerRow]:
    from chalicelib.domain.tables.values import aspect_key

    wanted = aspect_key(aspect) if aspect else None
    return [
        r
        for r in rows
        if (unit_code is None or r.unit_code == unit_code)
        and (wanted is None or aspect_key(r.fields.get("aspect", "")) == wanted)
        and (overdue_as_of is None or is_overdue(r, overdue_as_of))
    ]


UNFILLED_ASPECT = "（未填）"


def aspect_tally(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """One version's accepted rows by 问题方面 as written (what its delivery pointer keeps for the stats)."""
    return dict(Counter(str(r.get("aspect") or UNFILLED_ASPECT) for r in rows))


def aspect_counts(rows: Iterable[LedgerRow]) -> list[dict[str, Any]]:
    """Counts by aspect × unit × period, for the office's monthly report upward."""
    counts = Counter((r.fields.get("aspect") or UNFILLED_ASPECT, r.unit_code, r.unit_name, r.period) for r in rows)
    return [
        {"aspect": aspect, "unit": {"code": code, "name": name}, "period": period, "count": n}
        for (aspect, code, name, period), n in sorted(counts.items(), key=lambda kv: (kv[0][3], kv[0][1], kv[0][0]))
    ]


def aspect_counts_of_pointers(campaign: Campaign, pointers: Iterable[DeliveryPointer]) -> list[dict[str, Any]]:
    """``aspect_counts`` from the counts each pointer keeps of its current version (same order, same items)."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for pointer in pointers:
        unit = campaign.unit(pointer.unit)
        for aspect, n in (pointer.current_aspect_counts or {}).items():
            if n:
                counts[(aspect, pointer.unit, unit.name if unit else pointer.unit, pointer.period)] += n
    return [
        {"aspect": aspect, "unit": {"code": code, "name": name}, "period": period, "count": n}
        for (aspect, code, name, period), n in sorted(counts.items(), key=lambda kv: (kv[0][3], kv[0][1], kv[0][0]))
    ]
