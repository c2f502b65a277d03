"""Rules of the ways to earn other than orders (pure: no database).

An *earning action* is one way to earn of one shop (a birthday, a newsletter sign-up, a
follow on one network, ...); an *award* is one occurrence of it for one member, known by a
unique key (``birthday:<member>:<year>``). These rules decide, from values only:

* **Limits.** Each action allows one award per member, either once ever or once per period
  (day, month, year) in the shop's time zone. The period of an award is its key's part that
  the limit counts (``period_key``); reversed awards do not count.
* **Birthdays** are month and day (the year is optional and never used to decide). The gift
  comes on that day in the shop's time zone; a 29 February birthday comes on 28 February in
  other years. A birthday earns again only 12 months after the day the last birthday gift
  was for, so changing one's birthday never earns twice within a year.
* **Anniversaries** of membership: every year on the day the member joined (shop time),
  from the first anniversary on, 29 February as above.
* **Texts**: every action has a shopper-facing title and description per language (the
  merchant's, else the defaults below) and a reason shown in the points history.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote, urlsplit

BIRTHDAY = "birthday"
ANNIVERSARY = "anniversary"
NEWSLETTER = "newsletter"
SOCIAL_FOLLOW = "social_follow"
SOCIAL_SHARE = "social_share"
REVIEW = "review"
REVIEW_PHOTO = "review_photo"
CUSTOM = "custom"
KINDS = (
    BIRTHDAY,
    ANNIVERSARY,
    NEWSLETTER,
    SOCIAL_FOLLOW,
    SOCIAL_SHARE,
    REVIEW,
    REVIEW_PHOTO,
    CUSTOM,
)

ONCE = "once"
DAY = "day"
MONTH = "month"
YEAR = "year"
LIMITS = (ONCE, DAY, MONTH, YEAR)
LIMIT_WORDS = {ONCE: "Once", DAY: "Once a day", MONTH: "Once a month", YEAR: "Once a year"}

NETWORKS: dict[str, str] = {
    "instagram": "Instagram",
    "facebook": "Facebook",
    "tiktok": "TikTok",
    "x": "X",
}
# The hosts a profile of each network lives on (a follow link must point there).
NETWORK_HOSTS: dict[str, tuple[str, ...]] = {
    "instagram": ("instagram.com",),
    "facebook": ("facebook.com", "fb.com"),
    "tiktok": ("tiktok.com",),
    "x": ("x.com", "twitter.com"),
}
# Networks with a web share intent (a URL that opens a prefilled post; no script needed).
SHARE_NETWORKS = ("facebook", "x")


@dataclass(frozen=True)
class BuiltIn:
    """A way to earn every shop has (off until the merchant turns it on)."""

    kind: str
    network: str
    points: int
    limit: str
    limits: tuple[str, ...]  # the limits the merchant may choose from


# The ways to earn the admin lists, in this order; custom actions (named by the merchant,
# awarded through the API) follow. A review earns once per review id, and at most once per
# member per the limit (a day by default: a burst of one-line reviews earns once).
BUILT_IN: tuple[BuiltIn, ...] = (
    BuiltIn(BIRTHDAY, "", 100, YEAR, (YEAR,)),
    BuiltIn(ANNIVERSARY, "", 100, YEAR, (YEAR,)),
    BuiltIn(NEWSLETTER, "", 50, ONCE, (ONCE,)),
    *(BuiltIn(SOCIAL_FOLLOW, n, 25, ONCE, (ONCE,)) for n in NETWORKS),
    *(BuiltIn(SOCIAL_SHARE, n, 25, ONCE, LIMITS) for n in SHARE_NETWORKS),
    BuiltIn(REVIEW, "", 50, DAY, LIMITS),
    BuiltIn(REVIEW_PHOTO, "", 25, DAY, LIMITS),
)
KIND_LIMITS: dict[str, tuple[str, ...]] = {
    BIRTHDAY: (YEAR,),
    ANNIVERSARY: (YEAR,),
    NEWSLETTER: (ONCE,),
    SOCIAL_FOLLOW: (ONCE,),
    SOCIAL_SHARE: LIMITS,
    REVIEW: LIMITS,
    REVIEW_PHOTO: LIMITS,
    CUSTOM: LIMITS,
}
MAX_POINTS = 1_000_000
# A custom action's name: what the API call names (``custom:<name>`` keys).
CUSTOM_NAME_RE = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")


def action_key(kind: str, network: str = "", name: str = "") -> str:
    """The action's key on shopper surfaces and in ``me``'s done list:
    ``birthday``, ``social_follow:instagram``, ``custom:<name>``."""
    if kind in (SOCIAL_FOLLOW, SOCIAL_SHARE):
        return f"{kind}:{network}"
    if kind == CUSTOM:
        return f"{kind}:{name}"
    return kind


def period_key(limit: str, day: date) -> str:
    """The period an award on ``day`` (shop time) falls in under ``limit``; once: ""."""
    if limit == DAY:
        return day.isoformat()
    if limit == MONTH:
        return f"{day:%Y-%m}"
    if limit == YEAR:
        return f"{day:%Y}"
    return ""


def limit_reached(limit: str, period: str, taken_periods: Iterable[str]) -> bool:
    """Whether a member who holds unreversed awards in ``taken_periods`` (of this action)
    may not earn it again in ``period``."""
    taken = set(taken_periods)
    return bool(taken) if limit == ONCE else period in taken


# --- birthdays and anniversaries ---------------------------------------------------------------


def _months_add(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def yearly_days(today: date) -> list[tuple[int, int]]:
    """The (month, day) pairs whose yearly day is ``today``: today's, and 29 February on
    28 February of a year without one."""
    days = [(today.month, today.day)]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        days.append((2, 29))
    return days


def yearly_day_in(year: int, month: int, day: int) -> date:
    """The day a yearly (month, day) falls on in ``year`` (29 February → 28 in other years)."""
    if (month, day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, month, day)


def birthday_problem(month: object, day: object, year: object, today: date) -> str | None:
    """Why a birthday as entered is refused (None: fine). The year is optional."""
    if not isinstance(month, int) or not 1 <= month <= 12:
        return "Choose a month."
    if not isinstance(day, int) or not 1 <= day <= (29 if month == 2 else 31):
        return "Choose a day of the month."
    if day > calendar.monthrange(2000, month)[1]:
        return "That month has no such day."
    if year is None:
        return None
    if not isinstance(year, int) or not today.year - 120 <= year <= today.year:
        return f"Give a year between {today.year - 120} and {today.year}."
    if (month, day) == (2, 29) and not calendar.isleap(year):
        return f"{year} had no 29 February."
    if date(year, month, day) > today:
        return "A birthday cannot be in the future."
    return None


BIRTHDAY_NOTICE_DAYS = 30


def birthday_due(
    *, month: int, day: int, today: date, set_on: date, last_gift_for: date | None
) -> date | None:
    """The birthday ``today`` is (shop time) if it earns now, else None: today must be the
    member's birthday this year, set (or last changed) on ``set_on`` at least
    ``BIRTHDAY_NOTICE_DAYS`` before, and the last gift (the birthday it was for) at least 12
    months before — so a changed birthday cannot earn twice within a year."""
    this_year = yearly_day_in(today.year, month, day)
    if this_year != today or (today - set_on).days < BIRTHDAY_NOTICE_DAYS:
        return None
    if last_gift_for is not None and _months_add(last_gift_for, 12) > today:
        return None
    return this_year


def birthday_next_gift(
    *, month: int, day: int, today: date, set_on: date, last_gift_for: date | None
) -> date:
    """The first day from ``today`` on whose birthday earns (``birthday_due``): what the
    shopper is told when they save it ("Your first birthday gift arrives on ...")."""
    latest = max(today, set_on, last_gift_for or today)
    for year in range(min(today, set_on).year, latest.year + 3):
        candidate = yearly_day_in(year, month, day)
        due = birthday_due(
            month=month, day=day, today=candidate, set_on=set_on, last_gift_for=last_gift_for
        )
        if candidate >= today and due is not None:
            return due
    raise AssertionError("a birthday earns within two years of its latest date")


def anniversary_due(*, joined: date, today: date) -> int | None:
    """The membership year completed ``today`` (1, 2, ...) if today is the anniversary of
    ``joined`` (shop time), else None."""
    years = today.year - joined.year
    if years < 1 or yearly_day_in(today.year, joined.month, joined.day) != today:
        return None
    return years


# --- links ---------------------------------------------------------------------------------------


def profile_url_problem(network: str, url: str) -> str | None:
    """Why a profile link is refused for a follow on ``network`` (None: fine, or empty)."""
    if not url:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host or len(url) > 500:
        return "Give the full https:// address of your profile."
    allowed = NETWORK_HOSTS.get(network, ())
    if not any(host == h or host.endswith("." + h) for h in allowed):
        return f"Give an address on {' or '.join(allowed)}."
    return None


def share_intent_url(network: str, page: str) -> str:
    """The network's web share intent for ``page`` (opens a prefilled post)."""
    target = quote(page, safe="")
    if network == "facebook":
        return f"https://www.facebook.com/sharer/sharer.php?u={target}"
    if network == "x":
        return f"https://x.com/intent/post?url={target}"
    raise ValueError(f"no share intent for {network}")


# --- texts ---------------------------------------------------------------------------------------

# Shopper-facing (title, description) per kind and language; {network} is the network's
# name. Merchants override them per language (``EarningAction.texts``).
DEFAULT_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    BIRTHDAY: {
        "en": ("Celebrate your birthday", "Tell us your birthday and get points on the day."),
        "fr": (
            "Fêtez votre anniversaire",
            "Indiquez votre date d'anniversaire et recevez des points le jour J.",
        ),
        "de": ("Feiern Sie Ihren Geburtstag", "Verraten Sie uns Ihren Geburtstag."),
        "es": ("Celebra tu cumpleaños", "Dinos tu cumpleaños y recibe puntos ese día."),
    },
    ANNIVERSARY: {
        "en": ("Membership anniversary", "Points every year on the day you joined."),
        "fr": ("Anniversaire d'adhésion", "Des points chaque année le jour de votre inscription."),
        "de": ("Mitgliedsjubiläum", "Jedes Jahr Punkte am Tag Ihrer Anmeldung."),
        "es": ("Aniversario de membresía", "Puntos cada año el día en que te uniste."),
    },
    NEWSLETTER: {
        "en": ("Sign up for our newsletter", "Subscribe to our emails."),
        "fr": ("Inscrivez-vous à la newsletter", "Abonnez-vous à nos e-mails."),
        "de": ("Newsletter abonnieren", "Abonnieren Sie unsere E-Mails."),
        "es": ("Suscríbete al boletín", "Suscríbete a nuestros correos."),
    },
    SOCIAL_FOLLOW: {
        "en": ("Follow us on {network}", "Follow our account and get points."),
        "fr": ("Suivez-nous sur {network}", "Suivez notre compte et gagnez des points."),
        "de": ("Folgen Sie uns auf {network}", "Folgen Sie uns und sammeln Sie Punkte."),
        "es": ("Síguenos en {network}", "Sigue nuestra cuenta y gana puntos."),
    },
    SOCIAL_SHARE: {
        "en": ("Share us on {network}", "Tell your friends about our store."),
        "fr": ("Partagez-nous sur {network}", "Parlez de notre boutique à vos amis."),
        "de": ("Teilen Sie uns auf {network}", "Erzählen Sie Freunden von unserem Shop."),
        "es": ("Compártenos en {network}", "Habla de nuestra tienda a tus amigos."),
    },
    REVIEW: {
        "en": ("Write a review", "Review a product you bought."),
        "fr": ("Laissez un avis", "Donnez votre avis sur un produit acheté."),
        "de": ("Bewertung schreiben", "Bewerten Sie ein gekauftes Produkt."),
        "es": ("Escribe una reseña", "Opina sobre un producto que compraste."),
    },
    REVIEW_PHOTO: {
        "en": ("Add a photo to your review", "Extra points for a review with a photo."),
        "fr": ("Ajoutez une photo à votre avis", "Des points en plus pour un avis avec photo."),
        "de": ("Foto zur Bewertung", "Extrapunkte für eine Bewertung mit Foto."),
        "es": ("Añade una foto a tu reseña", "Puntos extra por una reseña con foto."),
    },
    CUSTOM: {"en": ("{name}", "")},
}
# What the points history says (English, like the other ledger labels).
REASONS: dict[str, str] = {
    BIRTHDAY: "Birthday gift",
    ANNIVERSARY: "Membership anniversary",
    NEWSLETTER: "Newsletter sign-up",
    SOCIAL_FOLLOW: "Followed us on {network}",
    SOCIAL_SHARE: "Shared us on {network}",
    REVIEW: "Product review",
    REVIEW_PHOTO: "Review photo",
    CUSTOM: "{name}",
}
TEXT_FIELDS = ("title", "description")
TEXT_LIMIT = 200


def _fill(template: str, network: str, name: str) -> str:
    return template.replace("{network}", NETWORKS.get(network, network)).replace("{name}", name)


def action_reason(kind: str, network: str = "", name: str = "") -> str:
    """The points-history reason of an award ("Birthday gift", "Followed us on Instagram")."""
    return _fill(REASONS.get(kind, "Points"), network, name)


def action_texts(
    *,
    kind: str,
    network: str,
    name: str,
    stored: Mapping[str, object] | None,
    languages: Iterable[str],
) -> dict[str, dict[str, str]]:
    """Title and description per language: the merchant's, else the default in that
    language, else the English default."""
    out: dict[str, dict[str, str]] = {}
    defaults = DEFAULT_TEXTS.get(kind, DEFAULT_TEXTS[CUSTOM])
    for lang in languages:
        own = stored.get(lang) if isinstance(stored, Mapping) else None
        base = defaults.get(lang) or defaults["en"]
        texts: dict[str, str] = {}
        for index, field in enumerate(TEXT_FIELDS):
            value = own.get(field) if isinstance(own, Mapping) else None
            text = value.strip() if isinstance(value, str) and value.strip() else base[index]
            texts[field] = _fill(text, network, name)[:TEXT_LIMIT]
        out[lang] = texts
    return out
