"""Content-Security-Policy ``frame-ancestors`` on every HTML response.

An embedded page may be framed only by its own (validated) shop's admin; everything else
may not be framed at all. Views that authenticated a shop set ``request.embedded_shop``.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from merchants.domains import shop_domain_is_valid


def frame_ancestors_for(shop_domain: str | None) -> str:
    """The ``frame-ancestors`` directive for a response embedded in ``shop_domain``'s admin."""
    if not shop_domain or not shop_domain_is_valid(shop_domain):
        return "frame-ancestors 'none';"
    extra = " ".join(getattr(settings, "SHOPIFY_EXTRA_FRAME_ANCESTORS", []))
    sources = f"https://{shop_domain} https://admin.shopify.com"
    if extra:
        sources = f"{sources} {extra}"
    return f"frame-ancestors {sources};"


class FrameAncestorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" in response:
            return response
        content_type = response.get("Content-Type", "")
        if content_type.startswith("text/html"):
            shop = getattr(request, "embedded_shop", None)
            response["Content-Security-Policy"] = frame_ancestors_for(
                shop.domain if shop is not None else None
            )
        return response
