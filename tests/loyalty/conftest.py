from __future__ import annotations

import pytest

from loyalty.models import LoyaltyProgram
from merchants.models import Shop
from tests.loyalty.factories import ProgramFactory, ShopFactory


@pytest.fixture
def shop(db: None) -> Shop:
    return ShopFactory()


@pytest.fixture
def program(shop: Shop) -> LoyaltyProgram:
    return ProgramFactory(shop=shop)
