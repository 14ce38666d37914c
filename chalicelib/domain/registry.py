"""The campaign registry: units, contacts, deliverables, stages and due rules, as data.

Each campaign is one JSON file in ``chalicelib/data/campaigns/``, validated against
``schemas/campaign.schema.json`` and cross-checked here (what a schema cannot say).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from datetime import date, time
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.data import CAMPAIGN_DIR as _CAMPAIGN_DIR
from chalicelib.domain.schemas import schema_errors

CAMPAIGN_DIR = _CAMPAIGN_DIR


class RegistryError(ValueError):
    """The registry data is inconsistent; raised at start-up, never at request time."""


@dataclass(frozen=True)
class Contact:
    role: str
    name: str
    email: str
    title: str = ""
    mobile: str | None = None


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    contacts: tuple[Contact, ...]
    aliases: tuple[str, ...] = ()
    bureau: str | None = None

    @property
    def addressee(self) -> str:
        """Whom a notice addresses: the unit's bureau, as the notice addresses 各县（市、区）交通运输局."""
        return self.bureau or f"{self.name}交通运输局"

    def contacts_in_role(self, role: str) -> tuple[Contact, ...]:
        return tuple(c for c in self.contacts if c.role == role)

    @property
    def liaisons(self) -> tuple[Contact, ...]:
        return self.contacts_in_role("联络员")

    @property
    def leaders(self) -> tuple[Contact, ...]:
        return self.contacts_in_role("分管领导")


@dataclass(frozen=True)
class Deliverable:
    id: str
    name: str
    kind: str
    formats: tuple[str, ...]
    template: str | None = None


@dataclass(frozen=True)
class Stage:
    id: str
    name: str
    start: date
    end: date


@dataclass(frozen=True)
class DeadlineSpec:
    id: str
    name: str
    deliverables: tuple[str, ...]
    rule: dict[str, Any]
    package: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Office:
    name: str
    email: str
    liaison: Contact | None = None


DUE_DAY_POLICIES = ("keep", "next-working-day")


@dataclass(frozen=True)
class NoticePolicy:
    """When notices go out; the rules that use it are in ``chalicelib.domain.notice_policy``.

    Defaults: three days' warning leaves a working day or two to chase signatures and stamps even
    across a weekend, the day before and the day itself catch the forgetful; overdue every three days
    keeps up pressure without a daily flood; a week overdue is what the office would otherwise phone the
    leader in charge about (escalation copies the 分管领导).
    """

    reminder_days_before: tuple[int, ...] = (3, 1, 0)  # descending, unique; 0 is the due date
    overdue_every_days: int = 3
    escalate_after_days: int | None = 7  # None: never escalate
    digest: bool = True


def _notice_policy(raw: dict[str, Any] | None) -> NoticePolicy:
    if raw is None:
        return NoticePolicy()
    defaults = NoticePolicy()
    return NoticePolicy(
        reminder_days_before=tuple(
            sorted(set(raw.get("reminder_days_before", defaults.reminder_days_before)), reverse=True)
        ),
        overdue_every_days=raw.get("overdue_every_days", defaults.overdue_every_days),
        escalate_after_days=raw.get("escalate_after_days", defaults.escalate_after_days),
        digest=raw.get("digest", defaults.digest),
    )


def normalise_name(text: str) -> str:
    """Fold full-width forms and stray spaces so 「原平市 」 and 「原平市」 match."""
    return "".join(unicodedata.normalize("NFKC", text).split())


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    zone: ZoneInfo
    due_time: time
    office: Office
    units: tuple[Unit, ...]
    deliverables: dict[str, Deliverable]
    stages: dict[str, Stage]
    deadline_specs: tuple[DeadlineSpec, ...]
    due_day_policy: str = "keep"  # one of DUE_DAY_POLICIES; applied in chalicelib.domain.deadlines
    notice_policy: NoticePolicy = field(default_factory=NoticePolicy)
    issued: date | None = None  # the notice's date: nothing is sent before it
    # The notice's document number (文号), e.g. 忻交发〔2023〕56号: emails cite it.
    document_number: str = ""
    _unit_index: dict[str, Unit] = field(default_factory=dict, repr=False, compare=False)

    def unit(self, ref: str) -> Unit | None:
        """A unit by code, name or alias (as people type them: 原平, 五台山, 140981)."""
        return self._unit_index.get(normalise_name(ref))

    def deliverable(self, deliverable_id: str) -> Deliverable | None:
        return self.deliverables.get(deliverable_id)

    @property
    def year(self) -> int:
        """The campaign year: dates written without a year (6月30日) belong to it."""
        return min(stage.start for stage in self.stages.values()).year


def _contact(raw: dict[str, Any]) -> Contact:
    return Contact(
        role=raw["role"],
        name=raw["name"],
        email=raw["email"],
        title=raw.get("title", ""),
        mobile=raw.get("mobile"),
    )


def build_campaign(raw: dict[str, Any], source: bytes | None = None) -> Campaign:
    """The campaign of a parsed campaign file; ``source``, the file's bytes, lets a build-validated file skip
    the schema check (``chalicelib.domain.schemas.schema_errors``)."""
    errors = schema_errors("campaign", raw, source)
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(root)"
        raise RegistryError(f"campaign {raw.get('id', '?')}: {where}: {errors[0].message}")

    units = tuple(
        Unit(
            code=u["code"],
            name=u["name"],
            aliases=tuple(u.get("aliases", ())),
            bureau=u.get("bureau"),
            contacts=tuple(_contact(c) for c in u["contacts"]),
        )
        for u in raw["units"]
    )
    index: dict[str, Unit] = {}
    for unit in units:
        for ref in (unit.code, unit.name, *unit.aliases, *((unit.bureau,) if unit.bureau else ())):
            key = normalise_name(ref)
            if key in index and index[key] is not unit:
                raise RegistryError(f"campaign {raw['id']}: '{ref}' names both {index[key].code} and {unit.code}")
            index[key] = unit

    deliverables = {
        d["id"]: Deliverable(
            id=d["id"], name=d["name"], kind=d["kind"], formats=tuple(d["formats"]), template=d.get("template")
        )
        for d in raw["deliverables"]
    }
    stages = {
        s["id"]: Stage(
            id=s["id"], name=s["name"], start=date.fromisoformat(s["start"]), end=date.fromisoformat(s["end"])
        )
        for s in raw["stages"]
    }
    specs = []
    for d in raw["deadlines"]:
        unknown = [x for x in d["deliverables"] if x not in deliverables]
        unknown += [p["deliverable"] for p in d.get("package", ()) if p["deliverable"] not in d["deliverables"]]
        if unknown:
            raise RegistryError(f"campaign {raw['id']}: deadline {d['id']} names unknown deliverables {unknown}")
        if d["rule"]["type"] == "monthly" and d["rule"]["stage"] not in stages:
            raise RegistryError(f"campaign {raw['id']}: deadline {d['id']} names unknown stage {d['rule']['stage']}")
        specs.append(
            DeadlineSpec(
                id=d["id"],
                name=d["name"],
                deliverables=tuple(d["deliverables"]),
                rule=dict(d["rule"]),
                package=tuple((p["deliverable"], p["count"]) for p in d.get("package", ())),
            )
        )
    for stage in stages.values():
        if stage.end < stage.start:
            raise RegistryError(f"campaign {raw['id']}: stage {stage.id} ends before it starts")

    office_raw = raw["office"]
    return Campaign(
        id=raw["id"],
        document_number=str(raw.get("source", "")).split("，")[0],
        name=raw["name"],
        zone=ZoneInfo(raw["timezone"]),
        due_time=time.fromisoformat(raw["due_time"]),
        office=Office(
            name=office_raw["name"],
            email=office_raw["email"],
            liaison=_contact(office_raw["liaison"]) if "liaison" in office_raw else None,
        ),
        units=units,
        deliverables=deliverables,
        stages=stages,
        deadline_specs=tuple(specs),
        due_day_policy=raw.get("due_day_policy", "keep"),
        notice_policy=_notice_policy(raw.get("notice_policy")),
        issued=date.fromisoformat(raw["issued"]) if "issued" in raw else None,
        _unit_index=index,
    )


@dataclass(frozen=True)
class Registry:
    campaigns: dict[str, Campaign]

    def campaign(self, campaign_id: str) -> Campaign | None:
        return self.campaigns.get(campaign_id)


def load_registry(directory: Path = CAMPAIGN_DIR) -> Registry:
    campaigns: dict[str, Campaign] = {}
    for path in sorted(directory.glob("*.json")):
        source = path.read_bytes()
        campaign = build_campaign(json.loads(source), source)
        if campaign.id != path.stem:
            raise RegistryError(f"{path.name}: campaign id '{campaign.id}' must match the file name")
        campaigns[campaign.id] = campaign
    if not campaigns:
        raise RegistryError(f"no campaign files in {directory}")
    return Registry(campaigns)


@cache
def default_registry() -> Registry:
    return load_registry()
