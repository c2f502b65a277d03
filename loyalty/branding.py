"""The program's look and words, completed with defaults.

One source for the storefront (launcher data attributes, panel, landing page) and the admin's
live preview, so what a merchant previews is what shoppers get.
"""

from __future__ import annotations

import re
from typing import Any

from loyalty.errors import InvalidBranding

POSITIONS = ("bottom-right", "bottom-left")
SHAPES = ("pill", "circle")
ICONS = ("gift", "star", "crown", "heart")
LANGUAGES = ("en", "fr", "de", "es")
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")

BRANDING_DEFAULTS: dict[str, Any] = {
    "program_name": "Rewards",
    "primary_color": "#4f46e5",
    "text_color": "#ffffff",
    "position": "bottom-right",
    "shape": "pill",
    "icon": "gift",
    "launcher_label": "Rewards",
    "panel_title": "",
    "points_name": "points",
    "show_on_mobile": True,
    "languages": list(LANGUAGES),
}
_TEXT_LIMIT = 80


def branding_resolve(stored: dict[str, Any] | None) -> dict[str, Any]:
    """Stored branding over the defaults; unknown keys are dropped."""
    resolved = dict(BRANDING_DEFAULTS)
    for key, value in (stored or {}).items():
        if key in BRANDING_DEFAULTS:
            resolved[key] = value
    return resolved


def branding_validate(data: dict[str, Any]) -> dict[str, Any]:
    """Return the cleaned branding, or raise ``InvalidBranding`` naming the first bad field."""
    cleaned = branding_resolve(data)
    for key in ("primary_color", "text_color"):
        if not isinstance(cleaned[key], str) or not _HEX.match(cleaned[key]):
            raise InvalidBranding(f"{key} must be a hex colour such as #4f46e5")
    for key, allowed in (("position", POSITIONS), ("shape", SHAPES), ("icon", ICONS)):
        if cleaned[key] not in allowed:
            raise InvalidBranding(f"{key} must be one of {', '.join(allowed)}")
    for key in ("program_name", "launcher_label", "panel_title", "points_name"):
        value = cleaned[key]
        if not isinstance(value, str) or len(value.strip()) > _TEXT_LIMIT:
            raise InvalidBranding(f"{key} must be text of at most {_TEXT_LIMIT} characters")
        cleaned[key] = value.strip()
    if not cleaned["program_name"] or not cleaned["launcher_label"]:
        raise InvalidBranding("program_name and launcher_label cannot be empty")
    languages = cleaned["languages"]
    if (
        not isinstance(languages, list)
        or not languages
        or any(lang not in LANGUAGES for lang in languages)
    ):
        raise InvalidBranding(f"languages must be a non-empty subset of {', '.join(LANGUAGES)}")
    cleaned["show_on_mobile"] = bool(cleaned["show_on_mobile"])
    return cleaned


# The landing page's own words (English defaults). Merchants override them per language in
# the shopper texts (``LoyaltyProgram.texts``), with the panel's texts: the keys the two
# share (``sign_up``, ``have_account``, ``log_in``, ``balance``, ``earn``, the tier words)
# read the same.
LANDING_TEXT_DEFAULTS: dict[str, str] = {
    "sign_up": "Join now",
    "have_account": "Already a member?",
    "log_in": "Log in",
    "balance": "Your balance",
    "points": "{n} points",
    "start_shopping": "Start shopping",
    "earn": "Ways to earn",
    "rewards_title": "Rewards",
    "tiers_title": "VIP tiers",
    "tier_from": "From {n}",
    "orders": "{n} orders",
    "order": "{n} order",
    "tier_x": "{x}\u00d7 points on orders",
    "tier_entry": "{n} bonus points when you reach it",
    "min_order": "On orders over {v}",
    "faq_title": "Frequently asked questions",
    "ref_title": "Refer a friend",
    "ref_step_share": "Share your referral link from the rewards panel.",
    "ref_step_friend": "Your friend gets {offer}.",
    "ref_step_reward": "You get {reward} once their order is paid.",
    "ref_off_first": "{v} off their first order",
    "ref_off": "{v} off",
    "start_today": "Start earning today",
    "paused": "The program is paused for now. Come back soon!",
    # defaults of what the merchant's landing settings leave blank; {program}, {points} and
    # {shop} are the program's name, its points' name and the store's name
    "headline": "Welcome to {program}",
    "description": "Join {shop} {program}: earn {points} on every order and turn them into "
    "discounts and rewards.",
    "faq_join_q": "How do I join {program}?",
    "faq_join_a": "Create an account on this store: you are a member at once, free of charge.",
    "faq_earn_q": "How do I earn {points}?",
    "faq_earn_a": "Every order you place while logged in earns {points}. See the ways to earn "
    "above.",
    "faq_use_q": "How do I use my {points}?",
    "faq_use_a": "Open the rewards panel on any page, pick a reward and redeem it: you get a "
    "discount code to apply at checkout.",
    "faq_cancel_q": "Can I cancel a reward?",
    "faq_cancel_a": "Yes, as long as its code was not used: your {points} come back at once.",
}
