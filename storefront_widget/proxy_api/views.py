"""The storefront JSON API behind the app proxy (``/apps/beam/api/...`` on the store).

Every view verifies the proxy signature and the shop (``ProxyApi.initial`` for the DRF views,
``proxy_read`` for the two hot reads), then counts the request against the shop's and the
shopper's limits. Reads never call the platform.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty import services as loyalty_services
from loyalty.member_versions import member_version_key, shop_version_key
from loyalty.models import Member, Redemption
from loyalty.selectors import redemption_data
from loyalty.selectors_earning import birthday_document
from loyalty.selectors_referrals import (
    member_referral_block,
    referral_settings_read,
)
from loyalty.services.referrals import referral_code_ensure, referral_link
from loyalty.tier_documents import member_points_estimate
from merchants.errors import BeamError
from merchants.models import Shop
from storefront_widget import selectors
from storefront_widget.app_proxy import ProxyContext, app_proxy_verify
from storefront_widget.errors import LoginRequired, error_body, error_response, json_response
from storefront_widget.extension_api.cart import CartLine, cart_earning_estimate
from storefront_widget.proxy_api.serializers import (
    ActionClickInputSerializer,
    BirthdayInputSerializer,
    RedeemInputSerializer,
)
from storefront_widget.rate_limits import (
    VersionedKeys,
    VersionedRead,
    storefront_rate_limit,
    versioned_store,
)

PRIVATE = "private, no-store"
PROGRAM_CACHE_CONTROL = "public, max-age=30, stale-while-revalidate=300"
PRODUCT_POINTS_CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=300"
CENTS = re.compile(r"[0-9]{1,12}")


class ProxyApi(APIView):
    """Base: signature, shop and limits before any handler runs; JSON only."""

    authentication_classes: list = []
    permission_classes: list = []
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    write = False

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.proxy: ProxyContext = app_proxy_verify(request._request)
        storefront_rate_limit(proxy=self.proxy, write=self.write)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any):
        response = super().finalize_response(request, response, *args, **kwargs)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = PRIVATE
        return response

    def shop_row(self) -> Shop:
        """The full shop row (tokens included) for a write that may call the platform; the
        proxy context's shop comes from the cache and carries no tokens."""
        return Shop.objects.get(pk=self.proxy.shop.pk)

    def customer_id(self) -> int:
        if self.proxy.customer_id is None:
            raise LoginRequired()
        return self.proxy.customer_id


# --- the two hot reads: plain Django views ---------------------------------------------------
# ``program`` and ``me`` answer on every panel open. DRF's per-request machinery (request
# wrapping, content negotiation, renderer, serializer validation) cost more CPU than the work
# itself, so they are plain views with the same checks in the same order (signature, shop,
# limits) and the same JSON bodies and error shape as the DRF views.

PAGE_TOKEN = re.compile(r"[0-9]{1,19}")


Handler = Callable[[HttpRequest, ProxyContext, VersionedRead | None], HttpResponse]


def proxy_read(
    cached: Callable[[ProxyContext], VersionedKeys | None] | None = None,
) -> Callable[[Handler], Callable[..., HttpResponse]]:
    """A GET endpoint behind the app proxy: signature, shop and limits before the handler;
    ``Cache-Control: private, no-store`` unless the handler says otherwise. ``cached`` names
    the versioned document to read in the limits' round trip; the handler gets the read."""

    def decorate(handler: Handler) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(handler)
        def view(request: HttpRequest) -> HttpResponse:
            if request.method not in ("GET", "HEAD"):
                message = f'Method "{request.method}" not allowed.'
                response = json_response(error_body("method_not_allowed", message), status=405)
                response["Allow"] = "GET, HEAD"
            else:
                try:
                    proxy = app_proxy_verify(request)
                    keys = cached(proxy) if cached is not None else None
                    found = storefront_rate_limit(proxy=proxy, write=False, read=keys)
                    response = handler(request, proxy, found)
                except BeamError as exc:
                    response = error_response(exc)
            if "Cache-Control" not in response:
                response["Cache-Control"] = PRIVATE
            return response

        return view

    return decorate


@proxy_read()
def program_get(request: HttpRequest, proxy: ProxyContext, _: VersionedRead | None) -> HttpResponse:
    """Shop-wide: served from the per-shop cache with an ETag (304 when unchanged)."""
    doc = selectors.program_document_cached(shop=proxy.shop)
    if request.META.get("HTTP_IF_NONE_MATCH") == doc.etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(doc.body, content_type="application/json")
    response["ETag"] = doc.etag
    response["Cache-Control"] = PROGRAM_CACHE_CONTROL
    return response


@proxy_read()
def product_points_get(
    request: HttpRequest, proxy: ProxyContext, _: VersionedRead | None
) -> HttpResponse:
    """``?price=<cents>&product_id=<id>[&member=1]``: the points one unit of a product earns
    — the cart estimate of a one-line cart, so the product page, the panel, checkout and the
    credited order apply the one earning rule (rate, rounding, exclusions, bonus events).
    Prices come as the theme's ``variant.price``, in hundredths of the shop's currency.

    Without ``member`` the figure is shop-wide (before any tier multiplier) and publicly
    cacheable: what guests see. ``member=1`` (the block asks it only for a logged-in shopper)
    answers that shopper's own figure, their tier multiplier applied as crediting applies it,
    and is private: another URL, so no cache ever hands one shopper's figure to another."""
    price = proxy.params.get("price", "")
    product = proxy.params.get("product_id", "")
    personal = proxy.params.get("member", "")
    fields = {}
    if not CENTS.fullmatch(price):
        fields["price"] = ["Expected the price in hundredths (an integer)."]
    if product and not PAGE_TOKEN.fullmatch(product):
        fields["product_id"] = ["Expected a product id."]
    if personal not in ("", "1"):
        fields["member"] = ["Expected 1 (the logged-in shopper's own figure) or nothing."]
    if fields:
        return json_response(error_body("invalid", "Invalid input.", fields=fields), status=400)
    earning = cart_earning_estimate(
        shop=proxy.shop,
        lines=[
            CartLine(
                product_id=int(product) if product else None,
                quantity=1,
                total=Decimal(int(price)) / 100,
            )
        ],
    )
    if not personal:
        response = json_response({"points": earning.points})
        response["Cache-Control"] = PRODUCT_POINTS_CACHE_CONTROL
        return response
    points = member_points_estimate(
        shop=proxy.shop, customer_id=proxy.customer_id, points=earning.points
    )
    return json_response({"points": points})  # proxy_read's private, no-store


ME_DOCUMENT_SECONDS = 300


def _me_document(proxy: ProxyContext) -> VersionedKeys | None:
    """The first page of a logged-in shopper's ``me`` is cached under the shop's and the
    member's versions (``loyalty.member_versions``: every writer drops them after commit)."""
    if proxy.customer_id is None or "page" in proxy.params:
        return None
    shop_id, customer_id = proxy.shop.pk, proxy.customer_id
    return VersionedKeys(
        versions=(shop_version_key(shop_id), member_version_key(shop_id, customer_id)),
        document=f"sf:me:{shop_id}:{customer_id}",
        seconds=ME_DOCUMENT_SECONDS,
    )


@proxy_read(_me_document)
def me_get(request: HttpRequest, proxy: ProxyContext, cached: VersionedRead | None) -> HttpResponse:
    """The shopper's balance, pending points, history page and codes, as fresh as the
    database (the cached first page is dropped by every writer); guests get the invitation
    to join."""
    if proxy.customer_id is None:
        return json_response({"member": None, "invitation": {"sign_up": True, "log_in": True}})
    if cached is not None and cached.body is not None:
        return HttpResponse(cached.body, content_type="application/json")
    page = proxy.params.get("page")
    if page is not None and not PAGE_TOKEN.fullmatch(page):
        fields = {"page": ["This value does not match the required pattern."]}
        return json_response(error_body("invalid", "Invalid input.", fields=fields), status=400)
    data = selectors.member_data(
        shop=proxy.shop, customer_id=proxy.customer_id, before=int(page) if page else None
    )
    if page is None:
        data["referral"] = me_referral(proxy)
    response = json_response(data)
    if cached is not None:
        versioned_store(cached, response.content)
    return response


def me_referral(proxy: ProxyContext) -> dict[str, Any] | None:
    """The member's referral block while the shop's referrals are on (the code is made on
    the first read: every member has one from then on); None otherwise (1 query)."""
    config = referral_settings_read(shop=proxy.shop)
    if config is None or not config.enabled or proxy.customer_id is None:
        return None
    found = Member.objects.filter(shop=proxy.shop, customer_id=proxy.customer_id, redacted=False)
    member_id = found.values_list("pk", flat=True).first()
    if member_id is None:
        return None
    code = referral_code_ensure(shop=proxy.shop, member_id=member_id)
    return member_referral_block(
        shop=proxy.shop,
        member_id=member_id,
        code=code,
        link=referral_link(shop=proxy.shop, code=code, path_prefix=proxy.path_prefix),
    )


class RedeemApi(ProxyApi):
    """Spend points on a reward; the same ``client_key`` returns the first redemption."""

    write = True

    def post(self, request: Request) -> Response:
        body = RedeemInputSerializer(data=request.data)
        customer_id = self.customer_id()
        body.is_valid(raise_exception=True)
        redemption = loyalty_services.customer_reward_redeem(
            shop=self.shop_row(),
            customer_id=customer_id,
            reward_id=int(body.validated_data["reward_id"]),
            points=body.validated_data.get("points"),
            client_key=body.validated_data["client_key"],
            channel=Redemption.Channel.STOREFRONT,
        )
        return Response({"redemption": redemption_data(redemption)}, status=201)


class RedemptionGetApi(ProxyApi):
    """Status of one of the shopper's redemptions (the panel polls while pending)."""

    def get(self, request: Request, redemption_id: str) -> Response:
        redemption = selectors.redemption_for_customer(
            shop=self.proxy.shop, customer_id=self.customer_id(), redemption_id=redemption_id
        )
        return Response({"redemption": redemption_data(redemption)})


class RedemptionCancelApi(ProxyApi):
    """Cancel one of the shopper's unused codes; the points come back."""

    write = True

    def post(self, request: Request, redemption_id: str) -> Response:
        redemption = selectors.redemption_for_customer(
            shop=self.proxy.shop, customer_id=self.customer_id(), redemption_id=redemption_id
        )
        redemption = loyalty_services.redemption_cancel(
            shop=self.shop_row(), redemption_id=redemption.pk, actor="shopper"
        )
        return Response({"redemption": redemption_data(redemption)})


class BirthdayApi(ProxyApi):
    """The shopper enters their birthday (month, day, year optional); the gift comes on the
    day (the yearly job), once a year. Answers ``birthday_document``: the panel's
    confirmation says when the first gift arrives (the 30-day notice may push it a year)."""

    write = True

    def post(self, request: Request) -> Response:
        body = BirthdayInputSerializer(data=request.data)
        customer_id = self.customer_id()
        body.is_valid(raise_exception=True)
        loyalty_services.member_birthday_set(
            shop=self.proxy.shop,
            customer_id=customer_id,
            month=body.validated_data["month"],
            day=body.validated_data["day"],
            year=body.validated_data.get("year"),
        )
        return Response(birthday_document(shop=self.proxy.shop, customer_id=customer_id))


class ActionClickApi(ProxyApi):
    """The shopper opened a follow or share link: the points, once per network (shares:
    once per the action's period). Unverifiable by design; the panel says so."""

    write = True

    def post(self, request: Request) -> Response:
        body = ActionClickInputSerializer(data=request.data)
        customer_id = self.customer_id()
        body.is_valid(raise_exception=True)
        outcome = loyalty_services.social_click(
            shop=self.proxy.shop,
            customer_id=customer_id,
            kind=body.validated_data["kind"],
            network=body.validated_data["network"],
        )
        status = 201 if outcome.status == "awarded" else 200
        return Response({"status": outcome.status, "points": outcome.points}, status=status)


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Unknown API path: the one JSON error shape instead of an HTML 404."""
    return json_response(error_body("not_found", "Unknown endpoint."), status=404)
