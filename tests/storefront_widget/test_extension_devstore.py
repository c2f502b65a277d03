"""The devstore's stand-in of the checkout extension: the token it mints is what Beam accepts
as an extension token, the "apply code" step answers like ``applyDiscountCodeChange``, and the
checkout and thank-you pages carry what the stand-in needs."""

from __future__ import annotations

import json
from decimal import Decimal

import jwt
import pytest

from devstore import services as store
from devstore.models import DevOrder
from loyalty.models import Member
from storefront_widget.extension_api.auth import ExtensionTokenAuthentication
from tests.loyalty.factories import ProgramFactory, RewardFactory
from tests.storefront_widget.extension_helpers import bearer, devstore_with_beam

pytestmark = pytest.mark.django_db


@pytest.fixture
def env(settings, django_capture_on_commit_callbacks):
    settings.DEVSTORE_WEBHOOKS_SYNC = True
    dev_shop, shop = devstore_with_beam()
    ProgramFactory(shop=shop)
    with django_capture_on_commit_callbacks(execute=True):
        ada = store.customer_create(dev_shop, "ada@example.com", "Ada")
    mug = store.product_create(dev_shop, "Mug", Decimal("18.00"))
    return dev_shop, shop, ada, mug


def _login_and_fill_cart(client, dev_shop, ada, mug) -> None:
    client.post(f"/devstore/{dev_shop.domain}/login", {"customer_id": str(ada.id)})
    client.post(f"/devstore/{dev_shop.domain}/cart/add", {"variant_id": str(mug.variants.get().id)})


def test_minted_token_looks_like_the_platforms_and_beam_accepts_it(client, env):
    dev_shop, shop, ada, mug = env
    _login_and_fill_cart(client, dev_shop, ada, mug)
    token = client.get(f"/devstore/{dev_shop.domain}/checkout/extension-token").json()["token"]
    claims = jwt.decode(
        token, "beam-test-api-secret", algorithms=["HS256"], audience="beam-test-api-key"
    )
    assert claims["dest"] == dev_shop.domain and "iss" not in claims
    assert claims["sub"] == f"gid://shopify/Customer/{ada.id}"
    assert claims["exp"] - claims["iat"] == 300

    class _Req:
        _request = type("R", (), {"headers": {"Authorization": f"Bearer {token}"}})()

    buyer, _ = ExtensionTokenAuthentication().authenticate(_Req())
    assert (buyer.shop, buyer.customer_id) == (shop, ada.id)


def test_guest_token_has_no_sub(client, env):
    dev_shop = env[0]
    token = client.get(f"/devstore/{dev_shop.domain}/checkout/extension-token").json()["token"]
    assert "sub" not in jwt.decode(token, options={"verify_signature": False})


def test_apply_code_step_answers_like_apply_discount_code_change(client, env):
    dev_shop, _shop, ada, mug = env
    _login_and_fill_cart(client, dev_shop, ada, mug)
    store.discount_code_create(dev_shop, code="FIVE", value=Decimal("5"), customer_ids=[ada.id])
    url = f"/devstore/{dev_shop.domain}/checkout/discount"
    refused = client.post(
        url, {"type": "addDiscountCode", "code": "NOPE"}, content_type="application/json"
    )
    assert refused.json() == {
        "type": "error",
        "message": "Enter a valid discount code. NOPE isn't valid.",
    }
    ok = client.post(
        url, {"type": "addDiscountCode", "code": "five"}, content_type="application/json"
    )
    assert ok.json() == {
        "type": "success",
        "code": "FIVE",
        "amount": "5.00",
        "lines": {str(mug.variants.get().id): "5.00"},
    }
    # the applied code is used when the order is placed, and the buyer lands on thank-you
    placed = client.post(
        f"/devstore/{dev_shop.domain}/cart", {"customer_id": str(ada.id), "shipping": "0"}
    )
    order = DevOrder.objects.get()
    assert placed["Location"] == f"/devstore/{dev_shop.domain}/checkout/thank-you/{order.id}"
    assert order.discount_code.code == "FIVE" and order.payload["total_price"] == "13.00"


def test_checkout_page_carries_the_stand_in(client, env):
    dev_shop, _shop, ada, mug = env
    _login_and_fill_cart(client, dev_shop, ada, mug)
    page = client.get(f"/devstore/{dev_shop.domain}/cart").content.decode()
    assert 'id="beam-checkout-extension"' in page
    assert 'data-target="purchase.checkout.reductions.render-after"' in page
    assert "devstore/checkout-extension.js" in page
    cart = json.loads(
        page.split('id="beam-checkout-cart" type="application/json">')[1].split("</script>")[0]
    )
    assert cart == [
        {
            "product_id": f"gid://shopify/Product/{mug.id}",
            "variant_id": str(mug.variants.get().id),
            "quantity": 1,
            "total": "18.00",
            "gift_card": False,
        }
    ]


def test_extension_module_is_served_and_nothing_else(client, env):
    module = client.get("/devstore/ext-modules/beam-client.js")
    assert module.status_code == 200 and module["Content-Type"].startswith("text/javascript")
    assert b"export async function redeemAndApply" in module.content
    assert client.get("/devstore/ext-modules/..%2Fpackage.json").status_code == 404
    assert client.get("/devstore/ext-modules/build.mjs").status_code == 404


def test_paused_program_offers_no_rewards(client, env):
    _dev_shop, shop, ada, mug = env
    RewardFactory(shop=shop, points_cost=1)
    Member.objects.filter(shop=shop, customer_id=ada.id).update(balance=10)
    program = shop.loyalty_program
    program.enabled = False
    program.save()
    body = client.post(
        "/ext/checkout/summary",
        {"lines": [{"product_id": str(mug.id), "quantity": 1, "total": "18.00"}]},
        content_type="application/json",
        headers=bearer(shop.domain, ada.id),
    ).json()
    assert body["rewards"] == [] and body["earn"]["points"] == 0


def test_summary_query_count_does_not_grow_with_lines(client, env, django_assert_max_num_queries):
    _dev_shop, shop, ada, _mug = env
    RewardFactory(shop=shop)
    lines = [{"product_id": str(1000 + n), "quantity": 1, "total": "1.00"} for n in range(40)]
    with django_assert_max_num_queries(9):
        response = client.post(
            "/ext/checkout/summary",
            {"lines": lines},
            content_type="application/json",
            headers=bearer(shop.domain, ada.id),
        )
    assert response.status_code == 200 and response.json()["earn"]["points"] == 40
