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


# --- issue 14: who decided ----------------------------------------------------------------------------

UNNAMED_TOKEN = "市专项办"  # noqa: S105 (a name for a token without one, not a secret)


def office_token_name(header: str | None, raw: str) -> str | None:
    """The name configured for the presented token (``name:digest`` in ``OFFICE_TOKEN_SHA256``), or
    ``office`` for a digest configured without a name; None when the token is not an office token.

    The name is what the office's decisions are recorded under: whoever holds that token."""
    token = bearer_token(header)
    if token is None:
        return None
    presented = token_digest(token)
    found: str | None = None
    for entry in raw.split(","):
        name, _, digest = entry.strip().rpartition(":")
        digest = digest.strip().lower()
        if len(digest) == 64 and hmac.compare_digest(presented, digest) and found is None:
            found = name.strip() or UNNAMED_TOKEN
    return found
