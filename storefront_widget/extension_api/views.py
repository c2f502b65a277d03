"""The API of the checkout and customer-account UI extensions (mounted at /ext/).

Callers run in the platform's sandboxed worker, so:

* every request carries the extension session token (``Authorization: Bearer``, HS256 with the
  app secret, ``dest`` = shop, ``aud`` = API key, ``sub`` = customer GID when logged in). The
  customer is that ``sub`` and nothing else — a body naming a customer is refused;
* CORS: the worker's origin is opaque (``null``), so answers carry
  ``Access-Control-Allow-Origin: *`` without credentials, and preflights are answered without a
  token;
* each (shop, customer or client address) is rate-limited through the default cache (Redis in
  production), redeeming more tightly than reading.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.models import Member, Redemption
from loyalty.selectors import member_get_by_customer, member_tier_rank, redemption_data
from loyalty.selectors_earning import birthday_document
from loyalty.services import customer_reward_redeem, member_birthday_set, redemption_release
from loyalty.tier_documents import (
    HISTORY_SHOWN,
    cart_tier_outlook,
    member_tier_block,
    member_tier_history_page,
    order_tier_outlook,
)
from storefront_widget import selectors
from storefront_widget.errors import (
    CustomerLoginRequired,
    OrderNotFound,
    error_body,
    json_response,
)
from storefront_widget.extension_api.auth import (
    ExtensionBuyer,
    ExtensionTokenAuthentication,
    ReadThrottle,
    RedeemThrottle,
    WriteThrottle,
)
from storefront_widget.extension_api.cart import (
    CENT,
    CartLine,
    cart_payload,
    order_id_from_ref,
    payload_earning_estimate,
)
from storefront_widget.extension_api.serializers import (
    BirthdayInput,
    CartSummaryInput,
    CodeCancelInput,
    HistoryPageInput,
    RedeemInput,
)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Max-Age": "86400",
}
HISTORY_LIMIT = 50


class ExtensionApi(APIView):
    """Base: token auth, JSON only, CORS on every answer (errors included), preflight open."""

    authentication_classes = [ExtensionTokenAuthentication]
    permission_classes: list = []
    throttle_classes: list = [ReadThrottle]
    renderer_classes = [JSONRenderer]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.method == "OPTIONS":
            return  # a preflight carries no token; it only learns what may be sent
        super().initial(request, *args, **kwargs)

    # DRF hands handlers its Request; its own stubs mark APIView.options the same way.
    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        return Response(status=204)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in CORS_HEADERS.items():
            response[name] = value
        response["Cache-Control"] = "no-store"
        return response

    @property
    def buyer(self) -> ExtensionBuyer:
        return self.request.user  # type: ignore[return-value]

    def customer_required(self) -> int:
        if self.buyer.customer_id is None:
            raise CustomerLoginRequired()
        return self.buyer.customer_id

    def member_and_summary(self) -> tuple[Member | None, dict[str, Any]]:
        customer_id = self.buyer.customer_id
        member = (
            member_get_by_customer(shop=self.buyer.shop, customer_id=customer_id)
            if customer_id
            else None
        )
        return member, selectors.member_summary(member)


class CheckoutSummaryApi(ExtensionApi):
    """POST the cart; answers balance, the points this cart earns (with the member's tier
    multiplier), the rewards to pick and ``tier``: where this order leaves the member's tier
    (null while tiers are off). A logged-out buyer gets the estimate and ``customer: null``
    (a sign-in invitation)."""

    def post(self, request: Request) -> Response:
        data = CartSummaryInput(data=request.data)
        data.is_valid(raise_exception=True)
        shop = self.buyer.shop
        v = data.validated_data
        payload = cart_payload(
            [
                CartLine(
                    product_id=line.get("product_id"),
                    quantity=line["quantity"],
                    total=line["total"],
                    discount=Decimal(line.get("discount") or 0),
                    gift_card=line.get("gift_card", False),
                )
                for line in v["lines"]
            ],
            order_discount=Decimal(v.get("order_discount") or 0),
            shipping=Decimal(v.get("shipping") or 0),
            taxes_included=v.get("taxes_included", False),
        )
        earning = payload_earning_estimate(shop=shop, payload=payload)
        member, summary = self.member_and_summary()
        points, tier = cart_tier_outlook(
            shop=shop, member=member, payload=payload, points=earning.points
        )
        body: dict[str, Any] = {
            "earn": {
                "points": points,
                "multiplier": str(earning.multiplier.normalize()),
                "base": str(earning.base.quantize(CENT)),
            },
            "customer": None,
            "rewards": [],
            "tier": tier,
        }
        if self.buyer.customer_id is not None:
            body["customer"] = summary
            body["rewards"] = selectors.reward_offers(
                shop=shop,
                balance=summary["balance"],
                channel=Redemption.Channel.CHECKOUT,
                tier_rank=member_tier_rank(shop=shop, member=member),
            )
        return Response(body)


class CustomerSummaryApi(ExtensionApi):
    """GET balance, the member's tier block (as ``me`` has it) and the full reward
    catalogue (customer account)."""

    def get(self, request: Request) -> Response:
        self.customer_required()
        member, summary = self.member_and_summary()
        shop = self.buyer.shop
        return Response(
            {
                "customer": summary,
                "tier": member_tier_block(shop=shop, member=member),
                "rewards": selectors.reward_offers(
                    shop=shop,
                    balance=summary["balance"],
                    channel=Redemption.Channel.CUSTOMER_ACCOUNT,
                    tier_rank=member_tier_rank(shop=shop, member=member),
                ),
            }
        )


class CustomerHistoryApi(ExtensionApi):
    """GET the member's ledger, redemptions and tier changes (in words), newest first, with
    the cursors of the older entries and changes (``entries_next``, ``tier_changes_next``:
    null when there are none)."""

    def get(self, request: Request) -> Response:
        self.customer_required()
        member, summary = self.member_and_summary()
        shop = self.buyer.shop
        history = selectors.member_history(shop=shop, member=member, limit=HISTORY_LIMIT)
        tiers, more = member_tier_history_page(
            shop=shop, member=member, before=None, limit=HISTORY_SHOWN
        )
        return Response(
            {"customer": summary, **history, "tier_changes": tiers, "tier_changes_next": more}
        )


class CustomerEntriesPageApi(ExtensionApi):
    """GET ?before=<cursor>&limit=<1..50>: the member's older ledger entries ("Show more"),
    ``{"entries", "next"}``; a bad cursor or limit is a 400 with the reason."""

    def get(self, request: Request) -> Response:
        self.customer_required()
        page = HistoryPageInput(data=request.query_params)
        page.is_valid(raise_exception=True)
        member, _summary = self.member_and_summary()
        entries, more = selectors.member_entries_page(
            shop=self.buyer.shop, member=member, **page.validated_data
        )
        return Response({"entries": entries, "next": more})


class CustomerTierChangesPageApi(ExtensionApi):
    """GET ?before=<cursor>&limit=<1..50>: the member's older tier changes ("Show more"),
    ``{"tier_changes", "next"}``; a cursor that is not one of theirs is a 400."""

    def get(self, request: Request) -> Response:
        self.customer_required()
        page = HistoryPageInput(data=request.query_params)
        page.is_valid(raise_exception=True)
        member, _summary = self.member_and_summary()
        changes, more = member_tier_history_page(
            shop=self.buyer.shop, member=member, **page.validated_data
        )
        return Response({"tier_changes": changes, "next": more})


class CustomerBirthdayApi(ExtensionApi):
    """GET the customer's birthday and the day its gift comes (``birthday_document``); POST
    ``{"month", "day", "year"?}`` sets it through the panel's one service
    (``member_birthday_set``: a bad date is a 400 with the reason, nothing written)."""

    def get_throttles(self) -> list[Any]:
        write = [WriteThrottle()] if self.request.method == "POST" else []
        return [*super().get_throttles(), *write]

    def get(self, request: Request) -> Response:
        customer_id = self.customer_required()
        return Response(birthday_document(shop=self.buyer.shop, customer_id=customer_id))

    def post(self, request: Request) -> Response:
        customer_id = self.customer_required()
        data = BirthdayInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        member_birthday_set(
            shop=self.buyer.shop,
            customer_id=customer_id,
            month=v["month"],
            day=v["day"],
            year=v.get("year"),
        )
        return Response(birthday_document(shop=self.buyer.shop, customer_id=customer_id))


class RedemptionCreateApi(ExtensionApi):
    """POST a reward choice; the same ``client_key`` answers the same redemption."""

    throttle_classes = [ReadThrottle, RedeemThrottle]

    def post(self, request: Request) -> Response:
        customer_id = self.customer_required()
        data = RedeemInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        redemption = customer_reward_redeem(
            shop=self.buyer.shop,
            customer_id=customer_id,
            reward_id=v["reward_id"],
            points=v.get("points"),
            client_key=v["client_key"],
            channel=v["channel"],
        )
        _member, summary = self.member_and_summary()
        status = 201 if redemption.status == Redemption.Status.ISSUED else 202
        if redemption.status == Redemption.Status.FAILED:
            status = 502
        return Response({"redemption": redemption_data(redemption), **summary}, status=status)


class RedemptionDetailApi(ExtensionApi):
    """GET one of the member's redemptions (poll while the code is being created)."""

    def get(self, request: Request, redemption_id: int) -> Response:
        redemption = selectors.redemption_for_customer(
            shop=self.buyer.shop,
            customer_id=self.customer_required(),
            redemption_id=redemption_id,
        )
        return Response({"redemption": redemption_data(redemption)})


class RedemptionReleaseApi(ExtensionApi):
    """POST: the checkout could not apply the code — deactivate it and return the points."""

    throttle_classes = [ReadThrottle, RedeemThrottle]

    def post(self, request: Request, redemption_id: int) -> Response:
        redemption = selectors.redemption_for_customer(
            shop=self.buyer.shop,
            customer_id=self.customer_required(),
            redemption_id=redemption_id,
        )
        redemption = redemption_release(
            shop=self.buyer.shop, redemption=redemption, actor="checkout-extension"
        )
        _member, summary = self.member_and_summary()
        return Response({"redemption": redemption_data(redemption), **summary})


class RedemptionCodeCancelApi(ExtensionApi):
    """POST ``{"code"}``: the buyer removed this reward code from the checkout — deactivate
    it in the store and return the points now rather than when it expires. Idempotent: a
    code already cancelled (or expired) answers its redemption and gives nothing more back;
    a used one is a 409 and changes nothing."""

    throttle_classes = [ReadThrottle, RedeemThrottle]

    def post(self, request: Request) -> Response:
        customer_id = self.customer_required()
        data = CodeCancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        redemption = selectors.redemption_for_customer_code(
            shop=self.buyer.shop, customer_id=customer_id, code=data.validated_data["code"]
        )
        redemption = redemption_release(
            shop=self.buyer.shop, redemption=redemption, actor="checkout-extension"
        )
        _member, summary = self.member_and_summary()
        return Response({"redemption": redemption_data(redemption), **summary})


class OrderPointsApi(ExtensionApi):
    """GET ?order_id=<GID or id>: the points of the customer's own order and where it leaves
    their tier (thank-you and order-status pages). Unknown and foreign orders are the same
    404."""

    def get(self, request: Request) -> Response:
        customer_id = self.customer_required()
        order_id = order_id_from_ref(request.query_params.get("order_id", ""))
        found = (
            selectors.order_points_for_customer(
                shop=self.buyer.shop, customer_id=customer_id, order_id=order_id
            )
            if order_id is not None
            else None
        )
        if found is None:
            raise OrderNotFound()
        member, summary = self.member_and_summary()
        order, body = found
        tier = order_tier_outlook(shop=self.buyer.shop, member=member, order=order)
        return Response({"order": body, "customer": summary, "tier": tier})


@csrf_exempt  # token-authenticated like every /ext/ view: a POST must not meet the CSRF page
def preflight_only(request: HttpRequest) -> HttpResponse:
    """Unknown paths under /ext/ still answer CORS, so the extension sees a real 404 (the
    API's JSON error, whatever the method)."""
    if request.method == "OPTIONS":
        response = HttpResponse(status=204)
    else:
        response = json_response(error_body("not_found", "No such endpoint."), status=404)
    for name, value in CORS_HEADERS.items():
        response[name] = value
    response["Cache-Control"] = "no-store"
    return response
