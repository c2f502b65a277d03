from __future__ import annotations

from typing import Any

import pytest

from loyalty import services
from loyalty.models import LoyaltyProgram
from merchants.models import Shop
from tests.loyalty.factories import ProgramFactory, ShopFactory


@pytest.fixture
def shop(db: None) -> Shop:
    return ShopFactory()


@pytest.fixture
def program(shop: Shop) -> LoyaltyProgram:
    return ProgramFactory(shop=shop)


@pytest.fixture
def inbox_not_processed(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Record deliveries without processing them: the test drains the inbox itself."""
    from merchants import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(tasks.webhooks_drain, "delay", lambda: None)


@pytest.fixture
def batch_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many deliveries each call of the crediting engine was given."""
    calls: list[int] = []
    real = services.deliveries_credit

    def spy(**kwargs: Any) -> dict[int, str]:
        calls.append(len(kwargs["deliveries"]))
        return real(**kwargs)

    monkeypatch.setattr(services, "deliveries_credit", spy)
    return calls
