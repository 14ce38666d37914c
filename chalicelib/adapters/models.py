"""PynamoDB models of the campaign table (one table, several item types).

Keys and the access patterns they serve (README, "Data model"):

- submission: pk ``C#{c}#U#{unit}``, sk ``S#{received}#{version}`` (a unit's history, newest
  first); gsi1 ``C#{c}#D#{deliverable}#P#{period}`` / ``U#{unit}#{received}`` (all units for one
  deadline); gsi2 ``C#{c}#SUB`` / ``{received}#{unit}`` (the campaign's feed, newest first).
- rejected key: pk ``INTAKE#REJECTED``, sk ``{received}#{key}#{version}``.
- notice: pk ``C#{c}#N#{scope}``, sk the notice's natural key within the scope.
- delivery (current pointer): pk ``C#{c}#U#{unit}``, sk ``CUR#{deliverable}#{period}``; gsi1
  ``C#{c}#CUR#{deliverable}#{period}`` / ``U#{unit}`` (every unit's state for one deadline).
- delivery row: pk ``C#{c}#ROWS#{unit}#{deliverable}#{period}#{version}``, sk ``R#{n:05d}``.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.connection import TableConnection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.adapters.aws import build_pynamodb_client


class _TableMeta:
    # Placeholders until bind_table() (called when a DynamoStore is made, from chalicelib.config.settings()):
    # nothing here reads the environment at import time. They must exist now: PynamoDB fills in a Meta's
    # missing region and host from its own defaults when the model class is created.
    table_name = "campaign-reporting"
    region: str | None = None
    host: str | None = None
    # Throttling and 5xx: PynamoDB's botocore client retries in "standard" mode, 1 + 4 attempts in all,
    # as chalicelib.adapters.aws configures the app's own clients; past that the SQS message is retried.
    max_retry_attempts = 4
    base_backoff_ms = 100
    connect_timeout_seconds = 5
    read_timeout_seconds = 20


class _TableModel(Model):
    """A model of the campaign table whose DynamoDB client comes from the process's one botocore session.

    PynamoDB gives each model class a session of its own, and each session loads botocore's endpoint and
    service data again: four times on an upload's first call (see chalicelib.adapters.aws).
    """

    @classmethod
    def _get_connection(cls) -> TableConnection:
        table = super()._get_connection()
        build_pynamodb_client(table.connection)  # once; afterwards an attribute check
        return table


TABLE_MODELS: list[type[Model]] = []  # filled below; bind_table() points each at the table


def bind_table(table_name: str, region: str, host: str | None) -> None:
    """Point every model at the campaign table; a model that already talked to another table reconnects."""
    if (_TableMeta.table_name, _TableMeta.region, _TableMeta.host) == (table_name, region, host):
        return
    _TableMeta.table_name, _TableMeta.region, _TableMeta.host = table_name, region, host
    for model in TABLE_MODELS:
        model._connection = None


def is_condition_failure(exc: Exception) -> bool:
    """A conditional write that lost: the item was already there, or already moved on."""
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def submission_pk(campaign_id: str, unit_code: str) -> str:
    return f"C#{campaign_id}#U#{unit_code}"


def deadline_pk(campaign_id: str, deliverable_id: str, period: str) -> str:
    return f"C#{campaign_id}#D#{deliverable_id}#P#{period}"


def feed_pk(campaign_id: str) -> str:
    return f"C#{campaign_id}#SUB"


class ByDeadline(GlobalSecondaryIndex["Submission"]):
    """All units' submissions for one deliverable and period (status board, sweep)."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class CampaignFeed(GlobalSecondaryIndex["Submission"]):
    """Every submission of a campaign, newest first."""

    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class Finding(MapAttribute):
    """One error or warning: where it is and what to do, in Chinese."""

    code = UnicodeAttribute()
    message = UnicodeAttribute()
    sheet = UnicodeAttribute(null=True)
    row = NumberAttribute(null=True)
    column = UnicodeAttribute(null=True)
    section = UnicodeAttribute(null=True)


class Submission(_TableModel):
    """One uploaded object version; never overwritten by a later upload."""

    class Meta(_TableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    by_deadline = ByDeadline()
    feed = CampaignFeed()

    campaign = UnicodeAttribute()
    unit = UnicodeAttribute()
    unit_name = UnicodeAttribute()
    deliverable = UnicodeAttribute()
    period = UnicodeAttribute()
    bucket = UnicodeAttribute()
    object_key = UnicodeAttribute()
    version_id = UnicodeAttribute()
    sequencer = UnicodeAttribute(null=True)
    file_name = UnicodeAttribute()
    size = NumberAttribute()
    sha256 = UnicodeAttribute()
    etag = UnicodeAttribute(null=True)
    received_at = UTCDateTimeAttribute()
    received_at_local = UnicodeAttribute()
    status = UnicodeAttribute()
    errors = ListAttribute(of=Finding, default=list)
    warnings = ListAttribute(of=Finding, default=list)
    row_count = NumberAttribute(null=True)
    # What the checks read off the file: header lines, sections found, page count …
    details: MapAttribute[str, Any] = MapAttribute(default=dict)
    updated_at = UTCDateTimeAttribute()


class RejectedUpload(_TableModel):
    """An object whose key names no known campaign, unit, deliverable or period."""

    class Meta(_TableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    bucket = UnicodeAttribute()
    object_key = UnicodeAttribute()
    version_id = UnicodeAttribute()
    received_at = UTCDateTimeAttribute()
    code = UnicodeAttribute()
    message = UnicodeAttribute()


class Notice(_TableModel):
    """The exactly-once log of outgoing email, keyed by the notice's natural key."""

    class Meta(_TableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    recipients = ListAttribute(of=UnicodeAttribute)
    cc = ListAttribute(of=UnicodeAttribute, default=list)
    subject = UnicodeAttribute()
    text = UnicodeAttribute()
    html = UnicodeAttribute(null=True)
    message_id = UnicodeAttribute()
    status = UnicodeAttribute()  # pending → sending → sent, or failed (retried) / rejected (permanent)
    attempts = NumberAttribute(default=0)
    lease_until = UTCDateTimeAttribute(null=True)
    sent_at = UTCDateTimeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


def delivery_sk(deliverable_id: str, period: str) -> str:
    return f"CUR#{deliverable_id}#{period}"


def current_index_pk(campaign_id: str, deliverable_id: str, period: str) -> str:
    return f"C#{campaign_id}#CUR#{deliverable_id}#{period}"


def rows_pk(campaign_id: str, unit_code: str, deliverable_id: str, period: str, version_id: str) -> str:
    return f"C#{campaign_id}#ROWS#{unit_code}#{deliverable_id}#{period}#{version_id}"


class DeliveriesByDeadline(GlobalSecondaryIndex["Delivery"]):
    """Every unit's delivery state for one deliverable and period: one Query for the board."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Delivery(_TableModel):
    """A unit's state for one deliverable and period: the pointer to its current accepted version.

    ``current_*`` moves only forward (by ``current_order``) and only after that version's rows are
    written, so readers following it never see a half-replaced list. ``first_accepted_at`` only
    moves back in time: a delivery that was on time stays on time. ``latest_*`` is the newest
    upload whatever its verdict (a rejected re-upload after an accepted one is shown, not counted).
    """

    class Meta(_TableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    by_deadline = DeliveriesByDeadline()

    campaign = UnicodeAttribute()
    unit = UnicodeAttribute()
    deliverable = UnicodeAttribute()
    period = UnicodeAttribute()
    current_version = UnicodeAttribute(null=True)
    current_order = UnicodeAttribute(null=True)
    current_submission_sk = UnicodeAttribute(null=True)
    current_row_count = NumberAttribute(null=True)
    current_received_at = UTCDateTimeAttribute(null=True)
    first_accepted_at = UTCDateTimeAttribute(null=True)
    latest_order = UnicodeAttribute(null=True)
    latest_status = UnicodeAttribute(null=True)
    latest_submission_sk = UnicodeAttribute(null=True)
    latest_received_at = UTCDateTimeAttribute(null=True)
    # Issue 17: kept in the same conditional writes as latest_* / current_*, so the board needs no GetItem
    # per rejection and the stats no Query per unit (absent on items written before: readers fall back).
    latest_messages = ListAttribute(of=UnicodeAttribute, null=True)
    current_aspect_counts: MapAttribute[str, Any] = MapAttribute(null=True)
    current_row_problems = ListAttribute(of=UnicodeAttribute, null=True)


class DeliveryRow(_TableModel):
    """One accepted row (issue, case, contact) of one version; rows of a version are never edited."""

    class Meta(_TableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    campaign = UnicodeAttribute()
    unit = UnicodeAttribute()
    deliverable = UnicodeAttribute()
    period = UnicodeAttribute()
    version_id = UnicodeAttribute()
    sheet = UnicodeAttribute(null=True)
    row = NumberAttribute(null=True)
    aspect = UnicodeAttribute(null=True)
    fields: MapAttribute[str, Any] = MapAttribute(default=dict)


TABLE_MODELS.extend([Submission, RejectedUpload, Notice, Delivery, DeliveryRow])


# --- issue 15: problems (对账销号) ------------------------------------------------------------------
# problem: pk ``C#{c}#PU#{unit}``, sk ``P#{first_period}#{seq:05d}``; gsi1 ``C#{c}#PSTATUS#{status}`` /
# ``{unit}#{sk}`` (a status's problems campaign-wide); gsi2 ``C#{c}#PROB`` / ``{unit}#{sk}`` (all of them).
# unit aggregate: same pk, sk ``AGG``; gsi1 ``C#{c}#PAGG`` / ``{unit}`` (every unit's counts in one Query).


def problems_pk(campaign_id: str, unit_code: str) -> str:
    return f"C#{campaign_id}#PU#{unit_code}"


def problem_status_pk(campaign_id: str, status: str) -> str:
    return f"C#{campaign_id}#PSTATUS#{status}"


def problems_campaign_pk(campaign_id: str) -> str:
    return f"C#{campaign_id}#PROB"


def aggregates_pk(campaign_id: str) -> str:
    return f"C#{campaign_id}#PAGG"


PROBLEM_AGGREGATE_SK = "AGG"


class ProblemsByStatus(GlobalSecondaryIndex["ProblemItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ProblemsOfCampaign(GlobalSecondaryIndex["ProblemItem"]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class ProblemItem(_TableModel):
    """One problem: its history as JSON (the state is folded from it on read), a few attributes to filter on."""

    class Meta(_TableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    gsi2pk = UnicodeAttribute()
    gsi2sk = UnicodeAttribute()
    by_status = ProblemsByStatus()
    of_campaign = ProblemsOfCampaign()

    problem_id = UnicodeAttribute()
    unit = UnicodeAttribute()
    deliverable = UnicodeAttribute()
    status = UnicodeAttribute()
    aspect = UnicodeAttribute()
    body = UnicodeAttribute()  # Problem.as_json() as JSON


class AggregatesOfCampaign(GlobalSecondaryIndex["ProblemAggregateItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class ProblemAggregateItem(_TableModel):
    """A unit's problems in numbers, its current list versions and id counters; the revision commits a change."""

    class Meta(_TableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi1pk = UnicodeAttribute()
    gsi1sk = UnicodeAttribute()
    of_campaign = AggregatesOfCampaign()

    unit = UnicodeAttribute()
    revision = NumberAttribute()
    writing_until = UTCDateTimeAttribute(null=True)  # a claimed write not finished yet (its lease)
    body = UnicodeAttribute(null=True)  # chalicelib.domain.problems.aggregate() as JSON
    untold = UnicodeAttribute(null=True)  # office actions not yet told to the unit, JSON list


TABLE_MODELS.extend([ProblemItem, ProblemAggregateItem])


# --- issue 14: office decisions ---------------------------------------------------------------------


class Decision(_TableModel):
    """The office's decision on one submission: pk ``C#{c}#U#{unit}`` (the unit's partition, beside its
    submissions), sk ``DEC#{submission sk}#{sequence}``; never edited."""

    class Meta(_TableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    campaign = UnicodeAttribute()
    unit = UnicodeAttribute()
    deliverable = UnicodeAttribute()
    period = UnicodeAttribute()
    submission_ref = UnicodeAttribute()
    version_id = UnicodeAttribute()
    sequence = NumberAttribute()
    decision = UnicodeAttribute()
    note = UnicodeAttribute()
    decided_by = UnicodeAttribute()
    decided_at = UTCDateTimeAttribute()
    row_count = NumberAttribute(null=True)
    overridden = ListAttribute(of=UnicodeAttribute, default=list)


TABLE_MODELS.append(Decision)


# --- issue 17: export jobs ------------------------------------------------------------------------------


def export_job_pk(campaign_id: str, job_id: str) -> str:
    return f"C#{campaign_id}#EXPORT#{job_id}"


EXPORT_JOB_SK = "JOB"


class ExportJobItem(_TableModel):
    """An office export built by the export worker (issue 17); read by its id only."""

    class Meta(_TableMeta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    filters = UnicodeAttribute()  # JSON object of the ledger's filters
    estimated_rows = NumberAttribute()
    status = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    object_key = UnicodeAttribute(null=True)
    rows = NumberAttribute(null=True)
    message = UnicodeAttribute(null=True)


TABLE_MODELS.append(ExportJobItem)
