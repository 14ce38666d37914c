"""The CampaignStore contract (tests/store_contract.py) on DynamoDB, against the local stack's table."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.store import CampaignStore
from tests.store_contract import StoreContract


class TestDynamoStore(StoreContract):
    @pytest.fixture
    def store(self, system: Any) -> CampaignStore:  # mypy checks here that DynamoStore keeps the protocol
        from chalicelib.adapters.dynamo_store import default_store

        return default_store()
