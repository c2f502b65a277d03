"""The platform endpoints Beam calls (OAuth, Admin GraphQL, session tokens), the admin frame
that embeds Beam, the app proxy and the theme extension's assets."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from devstore import services
from devstore.app_paths import AppPathInvalid, app_path_parse
from devstore.errors import OAuthError
from devstore.graphql import graphql_request
from devstore.oauth import access_token_lookup, app_load_url, authorize_redirect, token_grant
from devstore.signing import app_proxy_signature
from devstore.views.common import logged_in, shop_or_404

INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
PROXY_RESERVED = {"shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature"}


def _launcher_path() -> Path:
    return Path(settings.BASE_DIR) / "extensions" / "beam-theme" / "assets"


@require_http_methods(["GET", "POST"])
def oauth_authorize(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """The install-consent screen: shows an Install button, then redirects to the app."""
    shop = shop_or_404(shop_domain)
    source = request.POST if request.method == "POST" else request.GET
    client_id = source.get("client_id", "")
    redirect_uri = source.get("redirect_uri", "")
    if client_id != settings.SHOPIFY_API_KEY:
        return HttpResponseBadRequest("Oauth error invalid_request: The client_id is unknown.")
    app = urlsplit(settings.SHOPIFY_APP_URL)
    target = urlsplit(redirect_uri)
    if (target.scheme, target.netloc) != (app.scheme, app.netloc):
        return HttpResponseBadRequest(
            "Oauth error invalid_request: The redirect_uri is not whitelisted"
        )
    scope = source.get("scope", "")
    state = source.get("state", "")
    if request.method == "POST":
        return HttpResponseRedirect(
            authorize_redirect(shop, scope=scope, redirect_uri=redirect_uri, state=state)
        )
    context = {
        "shop": shop,
        "client_id": client_id,
        "scope": scope,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    return render(request, "devstore/authorize.html", context)


@csrf_exempt
@require_POST
def oauth_access_token(request: HttpRequest, shop_domain: str) -> JsonResponse:
    shop = shop_or_404(shop_domain)
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return JsonResponse({"error": "invalid_request"}, status=400)
    else:
        body = request.POST.dict()
    if not isinstance(body, dict):
        return JsonResponse({"error": "invalid_request"}, status=400)
    try:
        return JsonResponse(token_grant(shop, body))
    except OAuthError as exc:
        return JsonResponse(exc.body, status=exc.status)


@require_GET
def admin_app_frame(request: HttpRequest, shop_domain: str) -> HttpResponse:
    """The store admin with Beam embedded, loaded like a managed install (``id_token``).
    ``?path=`` opens an app page instead of the app's home (the admin page keeps it in its
    address as the app navigates, so a reload or a copied link lands on the same page)."""
    shop = shop_or_404(shop_domain)
    raw_path = request.GET.get("path")
    path: str = "/"
    query: dict[str, str] = {}
    if raw_path is not None:
        try:
            path, query = app_path_parse(raw_path)
        except AppPathInvalid as exc:
            return HttpResponseBadRequest(
                f"Invalid path parameter: {exc}.", content_type="text/plain; charset=utf-8"
            )
    app = urlsplit(settings.SHOPIFY_APP_URL)
    context = {
        "shop": shop,
        "app_src": app_load_url(shop, path=path, query=query),
        "app_origin": f"{app.scheme}://{app.netloc}",
    }
    return render(request, "devstore/admin_frame.html", context)


@never_cache
@require_GET
def admin_session_token(request: HttpRequest, shop_domain: str) -> JsonResponse:
    """A fresh session token, for the App Bridge stand-in inside the embedded app."""
    shop = shop_or_404(shop_domain)
    response = JsonResponse({"token": services.session_token_issue(shop_domain=shop.domain)})
    response["Access-Control-Allow-Origin"] = settings.SHOPIFY_APP_URL or "*"
    return response


@csrf_exempt
@require_POST
def admin_graphql(request: HttpRequest, shop_domain: str, version: str) -> JsonResponse:
    shop = shop_or_404(shop_domain)
    if access_token_lookup(shop, request.headers.get("X-Shopify-Access-Token", "")) is None:
        return JsonResponse({"errors": INVALID_TOKEN}, status=401)
    try:
        body = json.loads(request.body or b"")
    except ValueError:
        return JsonResponse({"errors": "Invalid JSON in request body"}, status=400)
    status, answer, headers = graphql_request(shop, body)
    response = JsonResponse(answer, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def app_proxy(request: HttpRequest, shop_domain: str, path: str | None) -> HttpResponse:
    """Forward to Beam's proxy endpoint with the signed parameters the platform adds. The
    bare prefix (``/apps/beam``, ``path`` None) goes to the proxy URL exactly as configured
    (``…/proxy``, no trailing slash), like the platform forwards it."""
    shop = shop_or_404(shop_domain)
    customer = logged_in(request, shop)
    params = [
        (key, value)
        for key, values in request.GET.lists()
        if key not in PROXY_RESERVED
        for value in values
    ]
    params += [
        ("shop", shop.domain),
        ("logged_in_customer_id", str(customer.id) if customer else ""),
        ("path_prefix", settings.SHOPIFY_APP_PROXY_PREFIX),
        ("timestamp", str(int(time.time()))),
    ]
    params.append(("signature", app_proxy_signature(params, settings.SHOPIFY_API_SECRET)))
    headers = {"Accept": request.headers.get("Accept", "*/*"), "User-Agent": "Shopify App Proxy"}
    if request.headers.get("If-None-Match"):
        headers["If-None-Match"] = request.headers["If-None-Match"]
    if request.method == "POST":
        headers["Content-Type"] = request.headers.get("Content-Type", "application/octet-stream")
    try:
        upstream = requests.request(
            request.method or "GET",
            f"{settings.SHOPIFY_APP_URL}/proxy" + ("" if path is None else f"/{path}"),
            params=params,
            data=request.body if request.method == "POST" else None,
            headers=headers,
            timeout=settings.SHOPIFY_HTTP_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return HttpResponse(f"App proxy error: {exc}", status=502, content_type="text/plain")
    content_type = upstream.headers.get("Content-Type", "text/plain")
    if content_type.startswith("application/liquid"):
        return render(
            request,
            "devstore/proxy_page.html",
            {"shop": shop, "customer": customer, "body": mark_safe(upstream.text)},  # noqa: S308
            status=upstream.status_code,
        )
    response = HttpResponse(
        upstream.content, status=upstream.status_code, content_type=content_type
    )
    for name in ("Location", "ETag", "Cache-Control", "Retry-After"):
        if name in upstream.headers:
            response[name] = upstream.headers[name]
    return response


@require_GET
def theme_asset(request: HttpRequest, path: str) -> FileResponse:
    """Serve the theme extension's assets (what a theme app embed would load)."""
    root = _launcher_path().resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise Http404("No such asset")
    return FileResponse(target.open("rb"))
