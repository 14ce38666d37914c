"""The CampaignStore contract (tests/store_contract.py) on DynamoDB, against the local stack's table."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import dynamo_store
from tests.store_contract import StoreContract


class TestDynamoStore(StoreContract):
    @pytest.fixture
    def store(self, system: Any) -> Any:
        return dynamo_store()
