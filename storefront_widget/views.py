"""The loyalty landing page under the store's domain (``/apps/beam/`` → ``/proxy/``).

Served as a complete ``text/html`` document rather than ``application/liquid``: it needs its
own ``<title>``, meta description, canonical link and JSON-LD in ``<head>``, which a Liquid
body rendered inside the theme layout cannot set, and merchant-written texts can never be
evaluated as Liquid. No JavaScript; one small branded stylesheet through the same proxy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from loyalty.branding import BRANDING_DEFAULTS, LANDING_TEXT_DEFAULTS, LANGUAGES
from loyalty.selectors import member_get_by_customer
from merchants.errors import BeamError
from storefront_widget import selectors
from storefront_widget.app_proxy import ProxyContext, app_proxy_verify
from storefront_widget.errors import error_response
from storefront_widget.rate_limits import storefront_rate_limit

# Revalidated on every view (a 304 from the cached page, no query): a shopper who logs in
# must not be shown the guest page a cache kept from before, with its "Join now".
LANDING_CACHE_CONTROL = "public, no-cache"
MEMBER_CACHE_CONTROL = "private, no-store"
_GROUPING = {"en": ",", "fr": "\u202f", "de": ".", "es": "."}
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_JSON_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


def _verified(request: HttpRequest) -> ProxyContext:
    proxy = app_proxy_verify(request)
    storefront_rate_limit(proxy=proxy)
    return proxy


def _colour(value: Any, key: str) -> str:
    return value if isinstance(value, str) and _HEX.match(value) else BRANDING_DEFAULTS[key]


def _faq(data: dict[str, Any], words: Callable[[str], str]) -> list[dict[str, str]]:
    """The merchant's FAQ, else the default one in the page's language."""
    stored = data["landing"].get("faq")
    if isinstance(stored, list):
        entries = [
            {"q": str(e.get("q", ""))[:300], "a": str(e.get("a", ""))[:2000]}
            for e in stored
            if isinstance(e, dict) and e.get("q") and e.get("a")
        ]
        if entries:
            return entries
    return [
        {"q": words(f"faq_{topic}_q"), "a": words(f"faq_{topic}_a")}
        for topic in ("join", "earn", "use", "cancel")
    ]


def _json_ld(data: dict[str, Any], *, url: str, title: str, description: str, faq: list) -> str:
    graph = [
        {
            "@type": "WebPage",
            "@id": url,
            "url": url,
            "name": title,
            "description": description,
            "isPartOf": {"@type": "WebSite", "name": data["shop"]["name"]},
        },
        {
            "@type": "FAQPage",
            "mainEntity": [
                {
                    "@type": "Question",
                    "name": e["q"],
                    "acceptedAnswer": {"@type": "Answer", "text": e["a"]},
                }
                for e in faq
            ],
        },
    ]
    text = json.dumps({"@context": "https://schema.org", "@graph": graph}, ensure_ascii=False)
    return text.translate(_JSON_ESCAPES)


def landing_language(data: dict[str, Any], requested: str | None) -> str:
    """The page's language: the storefront's (``locale``) when the program offers it, else
    the program's first language."""
    offered = [lang for lang in data["branding"].get("languages") or [] if lang in LANGUAGES]
    lang = (requested or "")[:2].lower()
    return lang if lang in offered else (offered[0] if offered else "en")


def landing_texts(data: dict[str, Any], lang: str) -> dict[str, str]:
    """The page's words: the defaults under the merchant's shopper texts for ``lang``."""
    return {**LANDING_TEXT_DEFAULTS, **data["texts"].get(lang, {})}


def _points(texts: dict[str, str], lang: str, n: int) -> str:
    return texts["points"].replace("{n}", _grouped(lang, n))


def _grouped(lang: str, n: int) -> str:
    return f"{n:,}".replace(",", _GROUPING.get(lang, ","))


def _tier_from(texts: dict[str, str], lang: str, tier: dict[str, Any], currency: str) -> str:
    """A tier's threshold in its metric's words: points, money spent, or a number of orders."""
    if tier.get("metric") == "spend":
        return f"{tier['threshold']} {currency}"
    if tier.get("metric") == "orders":
        n = tier["threshold"]
        return texts["order" if n == 1 else "orders"].replace("{n}", _grouped(lang, n))
    return _points(texts, lang, tier["threshold"])


def _tier_benefits(texts: dict[str, str], lang: str, tier: dict[str, Any]) -> list[str]:
    """What a tier gives, in words: its earning multiplier, its perks, its entry points."""
    benefits: list[str] = []
    if Decimal(tier["multiplier"]) > 1:
        x = tier["multiplier"].replace(".", "," if lang in ("fr", "de", "es") else ".")
        benefits.append(texts["tier_x"].replace("{x}", x))
    benefits += tier["perks"]
    if tier["entry_points"]:
        benefits.append(texts["tier_entry"].replace("{n}", _grouped(lang, tier["entry_points"])))
    return benefits


def _referral_steps(
    texts: dict[str, str], lang: str, block: dict[str, Any], currency: str
) -> list[str]:
    """How referrals work, in three steps (the friend's offer and its minimum, the advocate's
    reward); empty while referrals are off."""
    if not block.get("enabled"):
        return []
    offer = block["friend_offer"]
    value = (
        f"{Decimal(offer['value']).normalize():f}%"
        if offer["kind"] == "percent"
        else (f"{offer['value']} {currency}")
    )
    words = texts["ref_off_first" if offer["first_order_only"] else "ref_off"].replace("{v}", value)
    friend = texts["ref_step_friend"].replace("{offer}", words)
    if offer["minimum"]:
        friend += " " + texts["min_order"].replace("{v}", f"{offer['minimum']} {currency}") + "."
    reward = block["advocate_reward"]
    got = _points(texts, lang, reward["points"]) if "points" in reward else reward["reward"]
    return [texts["ref_step_share"], friend, texts["ref_step_reward"].replace("{reward}", got)]


def landing_render(
    data: dict[str, Any],
    *,
    proxy: ProxyContext,
    css_url: str,
    lang: str = "en",
    balance: int | None = None,
) -> str:
    """The landing page HTML for the shop's program data, in ``lang``; with ``balance`` (a
    logged-in member's) the page shows it instead of the invitation to join."""
    branding = data["branding"]
    texts = landing_texts(data, lang)
    landing = data["landing"]
    shop_name = data["shop"]["name"]
    names = {
        "{program}": branding["program_name"],
        "{points}": branding["points_name"] or "points",
        "{shop}": shop_name,
    }

    def words(key: str) -> str:
        text = texts[key]
        for placeholder, value in names.items():
            text = text.replace(placeholder, value)
        return text

    url = proxy.canonical_base + "/"
    title = str(landing.get("title") or f"{branding['program_name']} · {shop_name}")[:120]
    description = str(landing.get("description") or words("description"))[:300]
    faq = _faq(data, words)
    context = {
        "data": data,
        "branding": branding,
        "shop_name": shop_name,
        "title": title,
        "description": description,
        "headline": landing.get("headline") or words("headline"),
        "intro": landing.get("intro") or description,
        "cta_label": landing.get("cta_label") or texts["sign_up"],
        "canonical": url,
        "faq": faq,
        "json_ld": mark_safe(  # noqa: S308 - JSON with <, >, & escaped
            _json_ld(data, url=url, title=title, description=description, faq=faq)
        ),
        "css_url": css_url,
        "enabled": data["enabled"],
        "lang": lang,
        "t": texts,
        "member_points": None if balance is None else _points(texts, lang, balance),
        # ways to earn in the page's language (an earning action's own texts, its points)
        "earning": [
            {
                **way,
                **(way.get("texts") or {}).get(lang, {}),
                "points_label": _points(texts, lang, way["points"])
                if "points" in way
                else way["points_label"],
            }
            for way in data["earning"]
        ],
        "rewards": [
            {
                **reward,
                "min_order": texts["min_order"].replace(
                    "{v}", f"{reward['min_subtotal']} {reward['currency']}"
                ),
            }
            for reward in data["rewards"]
        ],
        "referral_steps": _referral_steps(
            texts, lang, data.get("referrals") or {}, data["shop"]["currency"]
        ),
        "tiers": [
            {
                **tier,
                "from": texts["tier_from"].replace(
                    "{n}", _tier_from(texts, lang, tier, data["shop"]["currency"])
                ),
                "benefits": _tier_benefits(texts, lang, tier),
            }
            for tier in data["tiers"]
        ],
    }
    return render_to_string("storefront_widget/landing.html", context)


def _stylesheet() -> str:
    path = finders.find("storefront_widget/landing.css")
    with open(path, encoding="utf-8") as handle:  # type: ignore[arg-type]
        return handle.read()


def _css_for(branding: dict[str, Any]) -> str:
    primary = _colour(branding.get("primary_color"), "primary_color")
    text = _colour(branding.get("text_color"), "text_color")
    return f":root{{--beam-p:{primary};--beam-t:{text}}}\n" + _stylesheet()


@require_GET
def landing(request: HttpRequest) -> HttpResponse:
    """The explainer page: ways to earn, rewards, tiers, FAQ, call to action."""
    try:
        proxy = _verified(request)
    except BeamError as exc:
        return error_response(exc)
    program = selectors.program_document_cached(shop=proxy.shop)
    requested = proxy.params.get("locale")
    css_url = _css_url(request, proxy, version=program.etag[1:9])
    if proxy.customer_id is not None:
        return _member_landing(proxy, css_url=css_url, requested=requested)
    doc = selectors.landing_document(
        shop=proxy.shop,
        variant=f"{proxy.path_prefix} {requested or ''} {css_url}",
        render=lambda data: landing_render(
            data, proxy=proxy, css_url=css_url, lang=landing_language(data, requested)
        ),
    )
    if request.headers.get("If-None-Match") == doc.etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(doc.body, content_type="text/html; charset=utf-8")
    response["ETag"] = doc.etag
    response["Cache-Control"] = LANDING_CACHE_CONTROL
    return response


def _css_url(request: HttpRequest, proxy: ProxyContext, *, version: str) -> str:
    """The stylesheet's address relative to the page: the platform forwards the bare
    ``/apps/beam`` to ``/proxy`` and ``/apps/beam/`` to ``/proxy/``, and only the second
    resolves a plain ``landing.css`` under the prefix."""
    folder = "" if request.path.endswith("/") else proxy.path_prefix.rsplit("/", 1)[-1] + "/"
    return f"{folder}landing.css?v={version}"


def _member_landing(proxy: ProxyContext, *, css_url: str, requested: str | None) -> HttpResponse:
    """A logged-in shopper's page: their balance, never the invitation to join; rendered
    per request and never cached by a shared cache (the page is theirs)."""
    assert proxy.customer_id is not None
    data = selectors.landing_data(shop=proxy.shop)
    member = member_get_by_customer(shop=proxy.shop, customer_id=proxy.customer_id)
    body = landing_render(
        data,
        proxy=proxy,
        css_url=css_url,
        lang=landing_language(data, requested),
        balance=member.balance if member is not None else 0,
    )
    response = HttpResponse(body, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = MEMBER_CACHE_CONTROL
    return response


@require_GET
def landing_css(request: HttpRequest) -> HttpResponse:
    """The landing page's stylesheet with the shop's colours (versioned by ``?v=``)."""
    try:
        proxy = _verified(request)
    except BeamError as exc:
        return error_response(exc)
    branding = json.loads(selectors.program_document_cached(shop=proxy.shop).body)["branding"]
    response = HttpResponse(_css_for(branding), content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    return response
