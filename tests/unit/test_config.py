"""One Settings, read once from the environment; the table is bound when the store is made, not at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from chalicelib.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_settings_read_the_documented_names_with_their_defaults() -> None:
    defaults = Settings.from_env({})
    assert (defaults.table_name, defaults.region, defaults.aws_endpoint_url) == (
        "campaign-reporting",
        "cn-north-1",
        None,
    )
    assert (defaults.public_base_url, defaults.upload_link_grace_days, defaults.link_signing_keys) == (
        "http://127.0.0.1:8000",
        7,
        (),
    )
    local = Settings.from_env(
        {
            "TABLE_NAME": "t",
            "AWS_DEFAULT_REGION": "cn-northwest-1",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            "LINK_SIGNING_KEY": "a, b",
            "OFFICE_TOKEN_SHA256": "office:" + "0" * 64,
        }
    )
    assert (local.table_name, local.region, local.dynamodb_endpoint_url) == (
        "t",
        "cn-northwest-1",
        "http://127.0.0.1:4566",
    )
    assert local.links().signing_keys == ("a", "b") and local.office_token_sha256.endswith("0" * 64)
    only_dynamodb = Settings.from_env({"AWS_ENDPOINT_URL_DYNAMODB": "http://db:8000"})
    assert (only_dynamodb.aws_endpoint_url, only_dynamodb.dynamodb_endpoint_url) == (None, "http://db:8000")


def test_importing_the_models_reads_no_table_name_making_the_store_binds_it() -> None:
    """In a fresh interpreter: the environment names a table; the models know it only once a store is made."""
    probe = (
        "import os\n"
        "os.environ.update(TABLE_NAME='from-env', AWS_DEFAULT_REGION='cn-north-1')\n"
        "from chalicelib.adapters import models\n"
        "before = models.Submission.Meta.table_name\n"
        "from chalicelib.adapters.dynamo_store import default_store\n"
        "default_store()\n"
        "print(before, models.Submission.Meta.table_name, models.Notice.Meta.region)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["campaign-reporting", "from-env", "cn-north-1"]
