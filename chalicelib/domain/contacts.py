"""The contacts notices go to: the registry's, overridden by the unit's accepted 联系人名单.

Attachment 4 has no email column, so an uploaded row without one keeps the registry's address
for that role; a row with one (optional 电子邮箱 column) replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from chalicelib.domain.registry import Campaign, Contact, Unit

CONTACTS_DELIVERABLE = "contacts"
CONTACTS_PERIOD = "setup"


def merge_contacts(campaign: Campaign, unit: Unit, rows: Sequence[Mapping[str, Any]]) -> Unit:
    """Pure: the unit with its uploaded contacts in place of the registry's, role by role."""
    uploaded = [r for r in rows if campaign.unit(str(r.get("unit") or unit.code)) == unit]
    if not uploaded:
        return unit
    contacts: list[Contact] = []
    for role in ("分管领导", "联络员"):
        registered = unit.contacts_in_role(role)
        mine = [r for r in uploaded if r.get("role") == role]
        if not mine:
            contacts.extend(registered)
            continue
        fallback = registered[0].email if registered else None
        for row in mine:
            email = str(row.get("email") or "").strip() or fallback
            if email:
                contacts.append(
                    Contact(
                        role=role,
                        name=str(row["name"]),
                        email=email,
                        title=str(row.get("title") or ""),
                        mobile=row.get("mobile") or None,
                    )
                )
    return replace(unit, contacts=tuple(contacts)) if contacts else unit
