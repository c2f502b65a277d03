"""Referrals behind the app proxy: the referral link (``/apps/beam/r/<code>``: counts the
visit and lands the friend on the store, the panel then shows the offer), the friend's
offer, and the friend's claim (an email for a one-time code; rate-limited per IP, whose
address is kept only as a keyed hash)."""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from rest_framework.request import Request
from rest_framework.response import Response

from loyalty.errors import ReferralRefused
from loyalty.rules.referrals import ip_hash, referral_code_clean
from loyalty.selectors_referrals import friend_offer, referral_claim_document
from loyalty.services.referrals import referral_advocate, referral_claim, referral_visit
from merchants.shopify.oauth import store_origin
from storefront_widget.app_proxy import ProxyContext
from storefront_widget.errors import error_body, json_response
from storefront_widget.proxy_api.serializers import ReferralClaimInputSerializer
from storefront_widget.proxy_api.views import ProxyApi, proxy_read
from storefront_widget.rate_limits import VersionedRead, rate_limit_hit


def client_ip(request: HttpRequest) -> str:
    """The shopper's IP as the platform's proxy reports it (the first ``X-Forwarded-For``
    entry), else the peer's."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return forwarded.split(",")[0].strip() or request.META.get("REMOTE_ADDR", "")


def referral_link_follow(request: HttpRequest, code: str) -> HttpResponse:
    """The link a member shares: count the visit and send the friend to the store's home
    page with the code, where the panel offers the friend's discount."""
    return _link_follow_read(request)


@proxy_read()
def _link_follow_read(request: HttpRequest, proxy: ProxyContext, _: VersionedRead | None):
    code = request.resolver_match.kwargs["code"] if request.resolver_match else ""
    clean = referral_code_clean(code)
    target = f"{store_origin(proxy.shop.domain)}/"
    if clean is not None and referral_visit(shop=proxy.shop, code=clean):
        target += f"?beam_ref={quote(clean)}"
    return HttpResponseRedirect(target)


def referral_offer_get(request: HttpRequest, code: str) -> HttpResponse:
    """The friend's offer behind a code (404 when there is none or referrals are off)."""
    return _offer_read(request)


@proxy_read()
def _offer_read(request: HttpRequest, proxy: ProxyContext, _: VersionedRead | None):
    code = request.resolver_match.kwargs["code"] if request.resolver_match else ""
    config, advocate = referral_advocate(shop=proxy.shop, code=code)
    return json_response(friend_offer(shop=proxy.shop, config=config, advocate=advocate))


class ReferralClaimApi(ProxyApi):
    """The friend's email for a one-time code; the same email again answers the same
    referral. Limited per IP (hashed) and shop on top of the storefront's limits."""

    write = True

    def post(self, request: Request, code: str) -> Response:
        ip = client_ip(request._request)
        if ip:
            hashed = ip_hash(ip, settings.SHOPIFY_API_SECRET)[:32]
            rate_limit_hit(scope="referral_claim", ident=f"{self.proxy.shop.pk}:{hashed}")
        body = ReferralClaimInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            referral = referral_claim(
                shop=self.shop_row(), code=code, email=body.validated_data["email"], ip=ip
            )
        except ReferralRefused as exc:
            fields = {exc.field: [str(exc)]} if exc.field else {}
            return Response(error_body("invalid", str(exc), fields=fields), status=400)
        return Response({"referral": referral_claim_document(referral)})
