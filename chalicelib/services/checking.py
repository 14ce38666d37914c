"""Check an upload's content in a sandboxed child process: every file gets a verdict, whatever it asks for.

The upload function and ``cli check`` both come here, so an operator checking a file offline sees exactly
what the unit's receipt would say. The readers are imported before the child is forked, so each child
starts warm (the imports are paid once per process, not once per upload).
"""

from __future__ import annotations

import logging

from chalicelib.adapters.sandbox import Completed, Limits, run_limited
from chalicelib.domain.registry import Campaign, Deliverable, Unit
from chalicelib.domain.validation import Verdict, check_failed, check_file, has_report_template, has_table_template

log = logging.getLogger(__name__)


def _warm_readers(deliverable: Deliverable) -> None:
    if has_table_template(deliverable.id):
        import chalicelib.domain.tables
    if has_report_template(deliverable.id):
        import docx  # noqa: F401
        import pypdf  # noqa: F401

        import chalicelib.domain.reports  # noqa: F401


def check_bounded(
    campaign: Campaign,
    deliverable: Deliverable,
    unit: Unit | None,
    file_name: str,
    data: bytes,
    limits: Limits | None = None,
) -> Verdict:
    """``check_file`` in a child under ``limits`` (default: ``CHECK_MEMORY_MB``, ``CHECK_SECONDS``)."""
    _warm_readers(deliverable)
    outcome = run_limited(check_file, campaign, deliverable, unit, file_name, data, limits=limits)
    if isinstance(outcome, Completed):
        return outcome.value
    log.warning(
        "check of %s did not finish: %s (%s) after %.1f s", file_name, outcome.kind, outcome.detail, outcome.seconds
    )
    return check_failed(file_name, outcome.kind)
