"""Who may use the office routes: bearer tokens, configured only as SHA-256 hashes.

``OFFICE_TOKEN_SHA256`` holds comma-separated hex digests (``name:digest`` also works, the name
only helps operators tell tokens apart); the tokens themselves live with the people who use
them. Comparison is constant-time. With no hashes configured every request is refused.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

BEARER = "bearer "


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def parse_hashes(raw: str) -> frozenset[str]:
    digests = set()
    for entry in raw.split(","):
        digest = entry.strip().rsplit(":", 1)[-1].strip().lower()
        if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
            digests.add(digest)
    return frozenset(digests)


def bearer_token(header: str | None) -> str | None:
    if not header or header[: len(BEARER)].lower() != BEARER:
        return None
    token = header[len(BEARER) :].strip()
    return token or None


def is_office_token(header: str | None, hashes: Iterable[str]) -> bool:
    token = bearer_token(header)
    if token is None:
        return False
    presented = token_digest(token)
    # Compare against every hash so the time taken does not tell which one was close.
    matches = [hmac.compare_digest(presented, digest) for digest in hashes]
    return any(matches)


# --- issue 15: who did an office action ---------------------------------------------------------------
UNNAMED_OFFICE_TOKEN = "市专项办"  # noqa: S105 (a name, not a secret)


def office_token_name(header: str | None, raw: str) -> str:
    """The name configured with the presented token (``name:digest``), as history's ``who``; an unnamed
    token is the office itself."""
    token = bearer_token(header)
    if token is None:
        return UNNAMED_OFFICE_TOKEN
    presented = token_digest(token)
    for entry in raw.split(","):
        name, _, digest = entry.strip().rpartition(":")
        if hmac.compare_digest(presented, digest.strip().lower()):
            return name.strip() or UNNAMED_OFFICE_TOKEN
    return UNNAMED_OFFICE_TOKEN
