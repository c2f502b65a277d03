"""The plumbing of the embedded admin's htmx pages, shared by every page family: the shop
and staff member of the request, the page or its ``content`` partial, the redirect after a
successful POST, the shop's time zone."""

from __future__ import annotations

import json
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.paginator import Page
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode

from merchants.models import Shop


def staff_actor(request: HttpRequest) -> str:
    """The staff member acting: the session token's ``sub`` (user id)."""
    claims = getattr(request, "session_token_claims", None)
    return str(getattr(claims, "sub", "") or "unknown")


def request_shop(request: HttpRequest) -> Shop:
    """The shop ``embedded_admin_required`` authenticated."""
    return request.shop  # type: ignore[attr-defined]


def admin_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    toast: str | None = None,
) -> HttpResponse:
    """The ``content`` partial for htmx swaps, the whole page for document loads (and for
    htmx's history restore, which wants a full page)."""
    htmx = getattr(request, "htmx", None)
    partial = bool(htmx and not htmx.history_restore_request)
    response = render(
        request,
        f"{template}#content" if partial else template,
        {"shop": request_shop(request), **context},
        status=status,
    )
    if toast:
        response["HX-Trigger"] = json.dumps({"beam:toast": {"message": toast}})
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ["HX-Request"])
    return response


def admin_partial(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """One named partial (``template#name``) of a page, never cached."""
    response = render(request, template, {"shop": request_shop(request), **context})
    patch_vary_headers(response, ["HX-Request"])
    response["Cache-Control"] = "no-store"
    return response


def admin_redirect(request: HttpRequest, url: str, *, toast: str | None = None) -> HttpResponse:
    """After a successful POST: htmx follows ``HX-Location`` (with the token), a plain form
    gets a 303."""
    if getattr(request, "htmx", None):
        response = HttpResponse(status=204)
        response["HX-Location"] = json.dumps({"path": url, "target": "#beam-main"})
        if toast:
            response["HX-Trigger"] = json.dumps({"beam:toast": {"message": toast}})
        return response
    return HttpResponseRedirect(url, status=303)


def shop_zone(shop: Shop) -> ZoneInfo:
    """The shop's time zone (UTC when the platform gave none Beam knows)."""
    try:
        return ZoneInfo(shop.iana_timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def in_shop_timezone(view: Any) -> Any:
    """Dates typed into and shown by the view are in the shop's own time zone."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with timezone.override(shop_zone(request_shop(request))):
            return view(request, *args, **kwargs)

    return wrapper


def shop_row_or_404(model: type[Any], shop: Shop, pk: int, message: str) -> Any:
    """The shop's own row, or a 404 (another shop's id looks exactly like a missing one)."""
    row = model.objects.filter(shop=shop, pk=pk).first()
    if row is None:
        raise Http404(message)
    return row


def page_links(
    page: Page[Any], path: str, *, page_param: str = "page", **params: str
) -> dict[str, str]:
    """The addresses of a list's previous and next pages (``""`` at either end) and its
    "Page 2 of 3" label, for ``{% pagination %}``. Only the list's own ``params`` (empty
    ones left out) and the page number (``page_param``: a page with two lists numbers them
    apart) go in: a document load's ``id_token`` or ``host`` must not end up in a link."""
    kept: dict[str, str | int] = {key: value for key, value in params.items() if value}

    def link(number: int) -> str:
        return f"{path}?{urlencode({**kept, page_param: number})}"

    return {
        "previous_url": link(page.previous_page_number()) if page.has_previous() else "",
        "next_url": link(page.next_page_number()) if page.has_next() else "",
        "label": f"Page {page.number} of {page.paginator.num_pages}",
    }
