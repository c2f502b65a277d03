"""The storefront JSON API behind the app proxy (``/apps/beam/api/...`` on the store).

Every view verifies the proxy signature and the shop (``ProxyApi.initial``), then counts the
request against the shop's and the shopper's limits. Reads never call the platform.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty import services as loyalty_services
from loyalty.errors import InsufficientPoints
from loyalty.models import Redemption
from merchants.models import Shop
from storefront_widget import selectors
from storefront_widget.api.serializers import HistoryPageSerializer, RedeemInputSerializer
from storefront_widget.app_proxy import ProxyContext, app_proxy_verify
from storefront_widget.errors import LoginRequired, RedemptionNotFound
from storefront_widget.rate_limits import storefront_rate_limit

PRIVATE = "private, no-store"
PROGRAM_CACHE_CONTROL = "public, max-age=30, stale-while-revalidate=300"


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


class ProgramGetApi(ProxyApi):
    """Shop-wide: served from the per-shop cache with an ETag (304 when unchanged)."""

    def get(self, request: Request) -> HttpResponse:
        doc = selectors.program_document(shop=self.proxy.shop)
        if request.headers.get("If-None-Match") == doc.etag:
            response = HttpResponse(status=304)
        else:
            response = HttpResponse(doc.body, content_type="application/json")
        response["ETag"] = doc.etag
        response["Cache-Control"] = PROGRAM_CACHE_CONTROL
        return response


class MeGetApi(ProxyApi):
    """The shopper's balance, pending points, history page and codes; guests get the
    invitation to join."""

    def get(self, request: Request) -> Response:
        if self.proxy.customer_id is None:
            return Response({"member": None, "invitation": {"sign_up": True, "log_in": True}})
        query = HistoryPageSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = query.validated_data.get("page")
        data = selectors.member_data(
            shop=self.proxy.shop,
            customer_id=self.proxy.customer_id,
            before=int(page) if page else None,
        )
        return Response(data)


class RedeemApi(ProxyApi):
    """Spend points on a reward; the same ``client_key`` returns the first redemption."""

    write = True

    def post(self, request: Request) -> Response:
        customer_id = self.customer_id()
        body = RedeemInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        shop = self.shop_row()
        member = selectors.member_for_customer(shop=shop, customer_id=customer_id)
        if member is None:
            raise InsufficientPoints("You have no points yet.")
        redemption = loyalty_services.reward_redeem(
            shop=shop,
            member_id=member.pk,
            reward_id=int(body.validated_data["reward_id"]),
            points=body.validated_data.get("points"),
            client_key=body.validated_data["client_key"],
        )
        return Response({"redemption": selectors.redemption_data(redemption)}, status=201)


def _own_redemption(api: ProxyApi, redemption_id: str) -> Redemption:
    customer_id = api.customer_id()
    if not redemption_id.isdigit() or len(redemption_id) > 19:
        raise RedemptionNotFound()
    redemption = selectors.redemption_for_customer(
        shop=api.proxy.shop, customer_id=customer_id, redemption_id=int(redemption_id)
    )
    if redemption is None:
        raise RedemptionNotFound()
    return redemption


class RedemptionGetApi(ProxyApi):
    """Status of one of the shopper's redemptions (the panel polls while pending)."""

    def get(self, request: Request, redemption_id: str) -> Response:
        redemption = _own_redemption(self, redemption_id)
        return Response({"redemption": selectors.redemption_data(redemption)})


class RedemptionCancelApi(ProxyApi):
    """Cancel one of the shopper's unused codes; the points come back."""

    write = True

    def post(self, request: Request, redemption_id: str) -> Response:
        redemption = _own_redemption(self, redemption_id)
        redemption = loyalty_services.redemption_cancel(
            shop=self.shop_row(), redemption_id=redemption.pk, actor="shopper"
        )
        return Response({"redemption": selectors.redemption_data(redemption)})


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Unknown API path: the one JSON error shape instead of an HTML 404."""
    return JsonResponse(
        {"error": {"code": "not_found", "message": "Unknown endpoint."}}, status=404
    )
