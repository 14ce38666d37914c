"""CloudWatch metrics as embedded-metric-format log lines (Powertools Metrics): no API call, no extra
IAM permission; CloudWatch Logs turns each flushed line into metric data points.

Namespace ``CampaignReporting`` (``POWERTOOLS_METRICS_NAMESPACE`` overrides), dimension ``service``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from chalicelib.domain.findings import SendOutcome, SubmissionStatus

NAMESPACE = "CampaignReporting"

# Upload statuses and sweep outcomes → the metric each one counts toward.
UPLOAD_METRICS: dict[str, str] = {
    SubmissionStatus.ACCEPTED: "UploadsAccepted",
    SubmissionStatus.REJECTED: "UploadsRejected",
    SubmissionStatus.RECEIVED_FOR_REVIEW: "UploadsForReview",
    SubmissionStatus.RECEIVED: "UploadsReceived",
}
NOTICE_METRICS: dict[str, str] = {
    SendOutcome.SENT: "NoticesSent",
    SendOutcome.FAILED: "NoticesFailed",
    SendOutcome.REJECTED: "NoticesRejected",
}


@cache
def _metrics() -> Any:
    from aws_lambda_powertools import Metrics  # loaded on the first metric, not at import

    return Metrics(namespace=NAMESPACE, service="campaign-reporting")


_pending = {"metrics": False}


def _add(name: str, unit: str, value: float) -> None:
    _metrics().add_metric(name=name, unit=unit, value=value)
    _pending["metrics"] = True


def upload_checked(status: str, validation_ms: float, *, object_key: str, version_id: str) -> None:
    """One upload's verdict; the key and version ride along as metadata (one message per invocation)."""
    _add(UPLOAD_METRICS.get(status, "UploadsReceived"), "Count", 1)
    _add("ValidationTime", "Milliseconds", round(validation_ms, 1))
    _metrics().add_metadata(key="object_key", value=object_key)
    _metrics().add_metadata(key="version_id", value=version_id)


def key_rejected() -> None:
    _add("UploadKeysRejected", "Count", 1)


def notices(counts: Mapping[str, int]) -> None:
    for outcome, name in NOTICE_METRICS.items():
        _add(name, "Count", counts.get(outcome, 0))


def flush() -> None:
    """Write what was recorded as one log line; nothing at all when nothing was recorded."""
    if _pending["metrics"]:
        _pending["metrics"] = False
        _metrics().flush_metrics(raise_on_empty_metrics=False)
