"""Secrets read at run time from AWS Secrets Manager, never from the function's environment (issue 18).

In AWS a function's environment holds only the secret's *name* (``SMTP_SECRET_ID``,
``LINK_SIGNING_KEY_SECRET_ID``) and its role may read exactly that secret. A value resolved into the
environment at deploy time would sit in plaintext in the function configuration, readable by anyone with
``lambda:GetFunctionConfiguration``. Values are fetched through Powertools Parameters (the
``SecretsProvider`` behind ``get_secret``) and cached for ``SECRET_MAX_AGE_SECONDS``: a warm function asks
Secrets Manager at most once per secret per five minutes, and a rotated secret takes effect within five
minutes without a redeploy. The provider is given our botocore client (``chalicelib.adapters.aws``): same
retry policy and session as every other client, and the local stack's endpoint.

Locally and in tests no secret id is set, and the plain variables (``SMTP_USERNAME`` / ``SMTP_PASSWORD``,
``LINK_SIGNING_KEY``) still work.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

if TYPE_CHECKING:  # the upload path reads the SMTP secret and never needs the links module
    from chalicelib.config import Settings
    from chalicelib.domain.links import LinkSettings

logger = Logger(child=True)

SECRET_MAX_AGE_SECONDS = 300
# The environment variables naming the secrets (names, not values).
SMTP_SECRET_VARIABLE = "SMTP_SECRET_ID"  # noqa: S105 (a variable name; its secret: JSON username, password)
LINK_KEY_SECRET_VARIABLE = "LINK_SIGNING_KEY_SECRET_ID"  # noqa: S105 (its secret: key(s), newest first)


@cache
def _provider(region: str) -> Any:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    from chalicelib.adapters.aws import client

    return SecretsProvider(boto3_client=client("secretsmanager", region))


def secret_string(secret_id: str, region: str) -> str:
    """The secret's current SecretString (cached ``SECRET_MAX_AGE_SECONDS``)."""
    value = _provider(region).get(secret_id, max_age=SECRET_MAX_AGE_SECONDS)
    return value if isinstance(value, str) else value.decode("utf-8")


def smtp_credentials(secret_id: str, region: str) -> tuple[str | None, str | None]:
    """(username, password) from the relay's secret, read when a connection is opened."""
    import json

    value = json.loads(secret_string(secret_id, region))
    return (value.get("username") or None, value.get("password") or None)


def link_settings(settings: Settings) -> LinkSettings:
    """The county links' settings, with the signing key(s) from Secrets Manager when a secret id is set.

    A missing key or base URL is logged as an error (a function that composes links without them would
    silently hand out bare key hints, or links to 127.0.0.1); callers still get settings whose ``keys()``
    raises ``LinkConfigError``, which the API answers with 503 and the sweep replaces with the path hint.
    """
    from dataclasses import replace

    from chalicelib.domain.links import LinkConfigError

    links = settings.links()
    secret_id = settings.link_signing_key_secret_id
    if secret_id:
        try:
            keys = tuple(k.strip() for k in secret_string(secret_id, settings.region).split(",") if k.strip())
        except Exception:
            logger.exception("link signing key could not be read", extra={"secret_id": secret_id})
            keys = ()
        links = replace(links, signing_keys=keys)
    missing = [] if settings.public_base_url_set else ["PUBLIC_BASE_URL"]
    try:
        links.keys()
    except LinkConfigError as exc:
        missing.append(f"LINK_SIGNING_KEY ({exc.message})")
    if missing:
        logger.error("county upload links are not configured", extra={"missing": missing})
    return links
