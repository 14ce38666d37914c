"""One error shape for every route: Chalice's own ``{"Code": "BadRequestError", "Message": "…"}``.

A route that knows a finer reason (a forged link, an expired one) adds it as ``Reason``; ``Code`` is
always the Chalice error name of the status, so a client reads one field whatever the route.
"""

from __future__ import annotations

import json
from typing import Any

CHALICE_ERROR_CODES = {
    400: "BadRequestError",
    401: "UnauthorizedError",
    403: "ForbiddenError",
    404: "NotFoundError",
    405: "MethodNotAllowedError",
    409: "ConflictError",
    410: "GoneError",
    413: "RequestEntityTooLargeError",
    415: "UnsupportedMediaType",
    422: "UnprocessableEntityError",
    429: "TooManyRequestsError",
    500: "ChaliceViewError",
    503: "ServiceUnavailableError",
}

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


def error_body(status: int, message: str, reason: str | None = None) -> dict[str, str]:
    body = {"Code": CHALICE_ERROR_CODES.get(status, "ChaliceViewError"), "Message": message}
    if reason:
        body["Reason"] = reason
    return body


def json_for_people(body: Any) -> str:
    """JSON as people read it: Chinese as UTF-8 characters, not \\u escapes."""
    from chalice.app import handle_extra_types

    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=handle_extra_types)
