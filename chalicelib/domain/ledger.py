"""The consolidated ledger (台账): every unit's current accepted rows for a deliverable and period.

One Query finds the units' current versions (the pointer index), then one Query per unit reads
that version's rows: readers never see a half-replaced list, and nothing is ever scanned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from chalicelib.domain.registry import Campaign


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


def current_ledger(campaign: Campaign, deliverable_id: str, periods: Iterable[str]) -> list[LedgerRow]:
    from chalicelib.adapters.deliveries import deliveries_for, version_rows

    rows: list[LedgerRow] = []
    order = {unit.code: n for n, unit in enumerate(campaign.units)}
    for period in periods:
        states = [d for d in deliveries_for(campaign.id, deliverable_id, period) if d.current_version]
        for state in sorted(states, key=lambda d: order.get(d.unit, len(order))):
            unit = campaign.unit(state.unit)
            for item in version_rows(campaign.id, state.unit, deliverable_id, period, state.current_version):
                rows.append(
                    LedgerRow(
                        unit_code=state.unit,
                        unit_name=unit.name if unit else state.unit,
                        period=period,
                        version_id=state.current_version,
                        row=item.row,
                        sheet=item.sheet,
                        fields=item.fields.as_dict(),
                    )
                )
    return rows


def is_overdue(row: LedgerRow, as_of: date) -> bool:
    """A dated 完成时限 that has passed; long-term items (长期坚持 …) are never overdue."""
    deadline = row.fields.get("deadline")
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


def aspect_counts(rows: Iterable[LedgerRow]) -> list[dict[str, Any]]:
    """Counts by aspect × unit × period, for the office's monthly report upward."""
    counts = Counter((r.fields.get("aspect") or "（未填）", r.unit_code, r.unit_name, r.period) for r in rows)
    return [
        {"aspect": aspect, "unit": {"code": code, "name": name}, "period": period, "count": n}
        for (aspect, code, name, period), n in sorted(counts.items(), key=lambda kv: (kv[0][3], kv[0][1], kv[0][0]))
    ]
