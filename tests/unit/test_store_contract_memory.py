"""The CampaignStore contract (tests/store_contract.py) on the in-memory twin."""

from __future__ import annotations

import pytest

from chalicelib.adapters.memory_store import MemoryStore
from chalicelib.domain.store import CampaignStore
from tests.store_contract import StoreContract


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> CampaignStore:  # mypy checks here that MemoryStore keeps the protocol
        return MemoryStore()
