"""The devstore's own set-up pages: a newcomer creates a shop on /devstore/ and products on the
shop's admin home, with every mistake answered by a message (400), never a 500 or a half-made
row. Beam is installed only by opening it in the store admin (or the OAuth link)."""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.test import Client

from devstore.models import DevAppToken, DevOrder, DevProduct, DevShop, DevVariant
from merchants.models import Shop
from tests.devstore.factories import DevCustomerFactory, DevShopFactory
from tests.devstore_install import beam_install

pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

NEW = {
    "name": "Café Noir",
    "handle": "",
    "email": "",
    "currency": "EUR",
    "iana_timezone": "Europe/Paris",
    "taxes_included": "on",
}


def _errors(response) -> str:
    return html.unescape(response.content.decode())


# --- shops --------------------------------------------------------------------------------


def test_index_offers_the_shop_form(client, db):
    response = client.get("/devstore/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="csrfmiddlewaretoken"' in body
    assert "Create shop" in body and '<option value="EUR">' in body


def test_create_shop_from_its_name_without_installing_beam(client, db):
    response = client.post("/devstore/", NEW)

    assert response.status_code == 302
    assert response["Location"] == "/devstore/cafe-noir.myshopify.com/admin/"
    shop = DevShop.objects.get(domain="cafe-noir.myshopify.com")
    assert (shop.name, shop.currency, shop.iana_timezone, shop.taxes_included) == (
        "Café Noir",
        "EUR",
        "Europe/Paris",
        True,
    )
    assert shop.app_installed_at is None and not DevAppToken.objects.filter(shop=shop).exists()
    assert not Shop.objects.filter(domain=shop.domain).exists()


def test_typed_handle_wins_over_the_name(client, db):
    response = client.post("/devstore/", {**NEW, "handle": "Noir-2", "taxes_included": ""})
    assert response.status_code == 302
    shop = DevShop.objects.get(domain="noir-2.myshopify.com")
    assert shop.taxes_included is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"handle": "bad_handle!"}, "“bad_handle!” is not a valid handle"),
        ({"handle": "-dash"}, "“-dash” is not a valid handle"),
        ({"name": "!!!"}, "This name gives no handle: type one in Handle."),
        ({"handle": "ends-"}, "“ends-” is not a valid handle"),
        ({"name": ""}, "This field is required."),
        ({"currency": "ZZZ"}, "Select a valid choice. ZZZ is not one of the available choices."),
        ({"iana_timezone": "Mars/Olympus"}, "Select a valid choice. Mars/Olympus is not one"),
        ({"email": "not-an-email"}, "Enter a valid email address."),
    ],
)
def test_invalid_shop_is_refused_with_a_reason(client, db, changes, message):
    response = client.post("/devstore/", {**NEW, **changes})

    assert response.status_code == 400
    assert message in _errors(response)
    assert not DevShop.objects.exists()


def test_duplicate_shop_is_refused(client, db):
    DevShopFactory(domain="cafe-noir.myshopify.com", name="First")

    response = client.post("/devstore/", NEW)

    assert response.status_code == 400
    assert "cafe-noir.myshopify.com already exists." in _errors(response)
    assert DevShop.objects.get().name == "First"


def test_shop_created_meanwhile_is_a_duplicate_not_a_500(client, db, monkeypatch):
    """Another request creates the shop between the form's check and the insert: the
    unique domain refuses the second, and the page says so."""
    from devstore import forms

    real_clean = forms.ShopCreateForm.clean

    def clean_then_someone_else_creates(self):
        data = real_clean(self)
        DevShopFactory(domain="cafe-noir.myshopify.com", name="First")
        return data

    monkeypatch.setattr(forms.ShopCreateForm, "clean", clean_then_someone_else_creates)

    response = client.post("/devstore/", NEW)

    assert response.status_code == 400
    assert "cafe-noir.myshopify.com already exists." in _errors(response)
    assert DevShop.objects.get().name == "First"


def test_shop_form_needs_the_csrf_token(db):
    response = Client(enforce_csrf_checks=True).post("/devstore/", NEW)
    assert response.status_code == 403
    assert not DevShop.objects.exists()


def test_new_shop_home_offers_both_installs_and_opening_beam_installs_it(
    db, django_capture_on_commit_callbacks
):
    client = Client(HTTP_HOST="beam.test")
    client.post("/devstore/", NEW)
    domain = "cafe-noir.myshopify.com"

    home = client.get(f"/devstore/{domain}/admin/")
    body = home.content.decode()
    assert home.status_code == 200 and "Beam is not installed" in body
    assert f'href="/devstore/{domain}/admin/apps/beam">Open Beam in this store\'s admin' in body
    assert f'href="http://beam.test/auth/install?shop={domain}"' in body

    # what the merchant's browser does: the admin frame, then the app URL it embeds
    frame = client.get(f"/devstore/{domain}/admin/apps/beam")
    src = html.unescape(re.search(r'<iframe[^>]* src="([^"]+)"', frame.content.decode())[1])
    parts = urlsplit(src)
    with django_capture_on_commit_callbacks(execute=True):  # Beam pulls the shop's details
        app = client.get(f"{parts.path}?{parts.query}", headers={"Accept": "text/html"})

    assert app.status_code == 200
    shop = Shop.objects.get(domain=domain)
    assert shop.is_active and shop.currency == "EUR"
    assert DevShop.objects.get(domain=domain).app_installed_at is not None
    assert "Beam is installed" in client.get(f"/devstore/{domain}/admin/").content.decode()


# --- products -----------------------------------------------------------------------------

PRODUCT = {"title": "Desk Lamp", "price": "49.90", "sku": "LAMP", "tags": "bonus, home"}


@pytest.fixture
def euro_shop(db) -> DevShop:
    return DevShopFactory(domain="euro.myshopify.com", currency="EUR")


def test_create_product_then_it_is_listed_and_on_the_storefront(client, euro_shop):
    base = f"/devstore/{euro_shop.domain}"
    assert "Price (EUR)" in client.get(f"{base}/admin/").content.decode()

    response = client.post(f"{base}/admin/products", PRODUCT)

    assert response.status_code == 302 and response["Location"] == f"{base}/admin/"
    product = DevProduct.objects.get(shop=euro_shop)
    variant = product.variants.get()
    assert (product.title, product.tags, product.gift_card) == (
        "Desk Lamp",
        ["bonus", "home"],
        False,
    )
    assert (variant.title, variant.price, variant.sku) == (
        "Default Title",
        Decimal("49.90"),
        "LAMP",
    )
    assert "49.90 EUR" in client.get(f"{base}/admin/").content.decode()
    storefront = client.get(f"{base}/").content.decode()
    assert "Desk Lamp" in storefront and "49.90 EUR" in storefront


def test_product_variants_take_their_own_or_the_product_price(client, euro_shop):
    response = client.post(
        f"/devstore/{euro_shop.domain}/admin/products",
        {**PRODUCT, "variants": "Small\n\nLarge = 59.00\n"},
    )

    assert response.status_code == 302
    variants = DevVariant.objects.filter(product__shop=euro_shop).order_by("id")
    assert [(v.title, v.price) for v in variants] == [
        ("Small", Decimal("49.90")),
        ("Large", Decimal("59.00")),
    ]
    assert "Desk Lamp · Large" in client.get(f"/devstore/{euro_shop.domain}/").content.decode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, "This field is required."),
        ({"price": "abc"}, "Enter a number."),
        ({"price": "-1"}, "Ensure this value is greater than or equal to 0.00."),
        ({"price": "1.234"}, "Ensure that there are no more than 2 decimal places."),
        ({"price": "NaN"}, "Enter a number."),
        ({"price": "1e12"}, "Ensure this value is less than or equal to 9999999999.99."),
        ({"variants": "Large = cheap"}, "Line 1: write “Title” or “Title = price”"),
        ({"variants": "Large = 1.999"}, "Line 1: write “Title” or “Title = price”"),
        ({"variants": "S\nS = 2"}, "Line 2: “S” is listed twice."),
        ({"variants": " = 2"}, "Line 1: write “Title” or “Title = price”"),
    ],
)
def test_invalid_product_is_refused_with_a_reason(client, euro_shop, changes, message):
    response = client.post(f"/devstore/{euro_shop.domain}/admin/products", {**PRODUCT, **changes})

    assert response.status_code == 400
    assert message in _errors(response)
    assert not DevProduct.objects.exists() and not DevVariant.objects.exists()


def test_product_form_needs_the_csrf_token(euro_shop):
    response = Client(enforce_csrf_checks=True).post(
        f"/devstore/{euro_shop.domain}/admin/products", PRODUCT
    )
    assert response.status_code == 403
    assert not DevProduct.objects.exists()


def test_unknown_shop_pages_are_404(client, db):
    assert client.get("/devstore/nope.myshopify.com/admin/").status_code == 404
    assert client.post("/devstore/nope.myshopify.com/admin/products", PRODUCT).status_code == 404


def test_created_product_is_bought_at_checkout_and_its_order_webhook_sent(
    client, euro_shop, sent_webhooks
):
    base = f"/devstore/{euro_shop.domain}"
    beam_install(euro_shop)
    client.post(f"{base}/admin/products", PRODUCT)
    variant = DevVariant.objects.get(product__shop=euro_shop)
    buyer = DevCustomerFactory(shop=euro_shop)

    client.post(f"{base}/cart/add", {"variant_id": variant.id})
    placed = client.post(f"{base}/cart", {"customer_id": str(buyer.id), "shipping": "0"})

    order = DevOrder.objects.get(shop=euro_shop)
    assert placed.status_code == 302
    assert (order.payload["total_price"], order.payload["currency"]) == ("49.90", "EUR")
    paid = [w for w in sent_webhooks if w["headers"]["X-Shopify-Topic"] == "orders/paid"]
    assert len(paid) == 1
    (line,) = json.loads(paid[0]["body"])["line_items"]
    assert (line["title"], line["price"], line["variant_id"]) == ("Desk Lamp", "49.90", variant.id)
