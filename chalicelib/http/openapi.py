"""The API's OpenAPI description, served at /openapi.json; a test keeps it in step with app.routes."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.json"


@cache
def openapi_document() -> dict[str, Any]:
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
