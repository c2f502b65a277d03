"""The referral world the end-to-end referral tests share: a devstore shop with Beam
installed, a program (1 point per unit, 14 pending days), referrals on (10 off for the
friend, 500 points for the advocate), the advocate Ada (customer and member) with her code,
and the friend's signed claim from an IP (``X-Forwarded-For``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from devstore import services as store
from devstore.models import DevCustomer, DevShop
from devstore.webhooks import webhook_outbox
from loyalty.models import LedgerEntry, Member, Referral, ReferralSettings
from loyalty.rules.referrals import email_key
from merchants.models import Shop
from tests.devstore_install import beam_install
from tests.loyalty.factories import ProgramFactory
from tests.storefront_widget.conftest import SECRET, ProxyClient, signed_query

DOMAIN = "fraud.myshopify.com"
ADVOCATE = "ada.lovelace@gmail.com"
HOME = {"address1": "12 St James's Square", "zip": "SW1Y 4JH", "country_code": "GB"}
FRIEND_IP = "203.0.113.77"


class World:
    """The devstore shop, Beam's shop, the advocate (customer and member), a signed proxy
    client and the on-commit capture of the test."""

    def __init__(self, dev_shop: DevShop, client: Any, capture: Any) -> None:
        self.dev_shop = dev_shop
        self.shop: Shop = beam_install(dev_shop)
        self.capture = capture
        ProgramFactory(
            shop=self.shop,
            points_per_currency_unit=Decimal("1"),
            welcome_points=0,
            pending_days=14,
        )
        ReferralSettings.objects.create(
            shop=self.shop, enabled=True, offer_value=Decimal("10"), reward_points=500
        )
        self.ada = self.customer(ADVOCATE, "Ada", "Lovelace")
        self.advocate, _ = Member.objects.update_or_create(
            shop=self.shop,
            customer_id=self.ada.id,
            defaults={"email": ADVOCATE, "first_name": "Ada", "last_name": "Lovelace"},
        )
        self.proxy = ProxyClient(client, self.shop, self.ada.id)
        self.code = self.proxy.get("api/me").json()["referral"]["code"]

    def customer(self, email: str, first: str, last: str) -> DevCustomer:
        with self.capture(execute=True):
            return store.customer_create(self.dev_shop, email, first, last)

    def claim(self, email: str, ip: str = FRIEND_IP, code: str | None = None) -> Referral:
        """The friend (a guest) claims on the advocate's link (Ada's unless ``code``) from
        ``ip``."""
        query = signed_query(self.shop.domain, None)
        with self.capture(execute=True):
            response = self.proxy.client.post(
                f"/proxy/api/referrals/{code or self.code}/claim?{query}",
                data=json.dumps({"email": email}),
                content_type="application/json",
                headers={"X-Forwarded-For": f"{ip}, 10.0.0.1"},
            )
        assert response.status_code == 200, response.content
        return Referral.objects.get(shop=self.shop, friend_key=email_key(email))

    def buy(
        self,
        customer: DevCustomer | None,
        code: str | None,
        *,
        email: str | None = None,
        ship_to: dict[str, str] | None = None,
    ) -> Any:
        product = store.product_create(self.dev_shop, "Lamp", Decimal("50.00"))
        with self.capture(execute=True), webhook_outbox():
            return store.order_place(
                self.dev_shop,
                customer=customer,
                email=email,
                lines=[(product.variants.get(), 1)],
                discount_code=code,
                shipping_address=ship_to,
            )

    def rewards(self) -> list[tuple[str, int]]:
        entries = LedgerEntry.objects.filter(member=self.advocate, kind="referral")
        return list(entries.order_by("pk").values_list("note", "amount"))

    def balance(self) -> int:
        return Member.objects.get(pk=self.advocate.pk).balance


def world_factory(client: Any, capture: Any, settings: Any) -> Callable[..., World]:
    settings.DEVSTORE_WEBHOOKS_SYNC = True
    settings.SHOPIFY_API_SECRET = SECRET
    settings.STOREFRONT_RATE_LIMITS = {"referral_claim": (100, 600)}

    def make(
        before_install: Callable[[DevShop], None] | None = None, domain: str = DOMAIN
    ) -> World:
        dev_shop = store.shop_create(domain, name="Referral Store", currency="USD")
        if before_install is not None:
            before_install(dev_shop)
        return World(dev_shop, client, capture)

    return make
