"""Inbound calls to pure values: a product review (Beam's documented payload, or a Judge.me
webhook mapped onto it) and a custom-action call. No database: each parser returns the
value or raises ``InboundInvalid`` with the reason the caller answers 400 with.

The review a sender reports is stored (``ReviewEvent.stored``) in the inbox in one shape,
whatever its source; the award keys are ``review:<review id>`` and
``review_photo:<review id>`` (Judge.me's ids are prefixed ``judgeme:`` so they cannot meet a
Beam-format sender's ids in one shop).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from loyalty.rules.earning_actions import CUSTOM_NAME_RE
from merchants.errors import BeamError

CREATED, UPDATED, DELETED = "created", "updated", "deleted"
REVIEW_EVENTS = (CREATED, UPDATED, DELETED)
JUDGEME_EVENTS = {"review/created": CREATED, "review/updated": UPDATED}
ID_MAX = 100
EMAIL_MAX = 254
IDEMPOTENCY_KEY_RE = re.compile(r"\A[\x21-\x7e]{1,100}\Z")  # printable ASCII, no spaces
# A caller's clock may run a little ahead of ours; more than this is a mistake.
CLOCK_SKEW = timedelta(minutes=5)


class InboundInvalid(BeamError):
    """The body is not what the endpoint takes (the message says what is wrong)."""

    code = "invalid_body"
    http_status = 400


@dataclass(frozen=True)
class ReviewEvent:
    """One review event: ``event`` (created, updated, deleted), the review's id, who wrote
    it (the platform's customer id and/or email), the product, rating, photo and whether
    the review is published (only a published review earns)."""

    event: str
    review_id: str
    customer_id: int | None
    email: str
    product_id: str
    rating: int | None
    has_photo: bool
    published: bool
    source: str

    @property
    def earns(self) -> bool:
        return self.event != DELETED and self.published

    def stored(self) -> dict[str, Any]:
        """The inbox payload (``customer`` as an object: privacy export and redaction find
        and scrub it like a platform payload's)."""
        return {
            "event": self.event,
            "review_id": self.review_id,
            "customer": {"id": self.customer_id, "email": self.email or None},
            "product_id": self.product_id,
            "rating": self.rating,
            "has_photo": self.has_photo,
            "published": self.published,
            "source": self.source,
        }


@dataclass(frozen=True)
class CustomActionCall:
    """A custom-action call: the action's name, who earns it, the caller's idempotency key
    and when it happened (None: now)."""

    action: str
    customer_id: int | None
    email: str
    idempotency_key: str
    occurred_at: datetime | None

    @property
    def award_key(self) -> str:
        return f"custom:{self.action}:{self.idempotency_key}"


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or ``InboundInvalid``."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InboundInvalid("The body is not JSON.") from None
    if not isinstance(data, dict):
        raise InboundInvalid("The body must be a JSON object.")
    return data


def _id_text(value: Any, field: str, *, required: bool = True) -> str:
    if isinstance(value, bool) or value is None or value == "":
        if required:
            raise InboundInvalid(f"{field} is required.")
        return ""
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > ID_MAX:
        raise InboundInvalid(f"{field} must be a string or integer of at most {ID_MAX} chars.")
    if any(ch.isspace() for ch in value.strip()):
        raise InboundInvalid(f"{field} must not contain spaces.")
    return value.strip()


def _customer_id(value: Any, field: str = "customer_id") -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise InboundInvalid(f"{field} must be the store's numeric customer id.")
    return value


def _email(value: Any, field: str = "email") -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > EMAIL_MAX or "@" not in value:
        raise InboundInvalid(f"{field} must be an email address.")
    return value.strip().lower()


def _bool(value: Any, field: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InboundInvalid(f"{field} must be true or false.")
    return value


def _rating(value: Any, field: str = "rating") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise InboundInvalid(f"{field} must be an integer from 1 to 5.")
    return value


def _customer_named(customer_id: int | None, email: str, event: str) -> None:
    if event != DELETED and customer_id is None and not email:
        raise InboundInvalid("Name the reviewer: customer_id or email.")


def review_parse(data: dict[str, Any]) -> ReviewEvent:
    """Beam's review payload (docs/api.md). ``deleted`` needs only ``review_id``."""
    event = data.get("event")
    if event not in REVIEW_EVENTS:
        raise InboundInvalid(f"event must be one of {', '.join(REVIEW_EVENTS)}.")
    customer_id = _customer_id(data.get("customer_id"))
    email = _email(data.get("email"))
    _customer_named(customer_id, email, event)
    return ReviewEvent(
        event=event,
        review_id=_id_text(data.get("review_id"), "review_id"),
        customer_id=customer_id,
        email=email,
        product_id=_id_text(data.get("product_id"), "product_id", required=False),
        rating=None if event == DELETED else _rating(data.get("rating")),
        has_photo=_bool(data.get("has_photo"), "has_photo", False),
        published=_bool(data.get("published"), "published", True),
        source="beam",
    )


def judgeme_review_parse(data: dict[str, Any], *, shop_domain: str) -> ReviewEvent:
    """A Judge.me ``review/created`` or ``review/updated`` webhook mapped onto a review
    event (see docs/api.md for the field mapping). A review Judge.me hides, unpublishes or
    curates as spam does not earn (and an earlier award is reversed)."""
    event = JUDGEME_EVENTS.get(data.get("event"))  # type: ignore[arg-type]
    if event is None:
        raise InboundInvalid(f"event must be one of {', '.join(JUDGEME_EVENTS)}.")
    if data.get("shop_domain") not in (None, shop_domain):
        raise InboundInvalid("shop_domain is not the shop this webhook URL belongs to.")
    review = data.get("review")
    if not isinstance(review, dict):
        raise InboundInvalid("review must be an object.")
    reviewer = review.get("reviewer")
    if not isinstance(reviewer, dict):
        raise InboundInvalid("review.reviewer must be an object.")
    customer_id = _customer_id(reviewer.get("external_id"), "review.reviewer.external_id")
    email = _email(reviewer.get("email"), "review.reviewer.email")
    _customer_named(customer_id, email, event)
    published = (
        _bool(review.get("published"), "review.published", True)
        and not _bool(review.get("hidden"), "review.hidden", False)
        and review.get("curated") != "spam"
    )
    return ReviewEvent(
        event=event,
        review_id="judgeme:" + _id_text(review.get("id"), "review.id"),
        customer_id=customer_id,
        email=email,
        product_id=_id_text(
            review.get("product_external_id"), "review.product_external_id", required=False
        ),
        rating=_rating(review.get("rating"), "review.rating"),
        has_photo=_bool(
            review.get("has_published_pictures"), "review.has_published_pictures", False
        ),
        published=published,
        source="judgeme",
    )


def review_from_stored(payload: dict[str, Any]) -> ReviewEvent:
    """The event back from its inbox payload (``ReviewEvent.stored``)."""
    customer = payload.get("customer") or {}
    return ReviewEvent(
        event=payload["event"],
        review_id=payload["review_id"],
        customer_id=customer.get("id"),
        email=customer.get("email") or "",
        product_id=payload.get("product_id") or "",
        rating=payload.get("rating"),
        has_photo=bool(payload.get("has_photo")),
        published=bool(payload.get("published")),
        source=payload.get("source") or "beam",
    )


def custom_action_parse(data: dict[str, Any], *, now: datetime) -> CustomActionCall:
    """A custom-action call's body (docs/api.md)."""
    unknown = set(data) - {"action", "customer_id", "email", "idempotency_key", "occurred_at"}
    if unknown:
        raise InboundInvalid(f"Unknown field(s): {', '.join(sorted(unknown))}.")
    action = data.get("action")
    if not isinstance(action, str) or not CUSTOM_NAME_RE.match(action):
        raise InboundInvalid("action must be the action's name (letters, digits, - and _).")
    key = data.get("idempotency_key")
    if not isinstance(key, str) or not IDEMPOTENCY_KEY_RE.match(key):
        raise InboundInvalid(
            "idempotency_key is required: 1 to 100 printable ASCII characters, no spaces."
        )
    customer_id = _customer_id(data.get("customer_id"))
    email = _email(data.get("email"))
    if customer_id is None and not email:
        raise InboundInvalid("Name the customer: customer_id or email.")
    occurred_at = None
    raw = data.get("occurred_at")
    if raw is not None:
        try:
            occurred_at = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            occurred_at = None
        if occurred_at is None or occurred_at.tzinfo is None:
            raise InboundInvalid("occurred_at must be an ISO 8601 time with its UTC offset.")
        if occurred_at > now + CLOCK_SKEW:
            raise InboundInvalid("occurred_at is in the future.")
    return CustomActionCall(action, customer_id, email, key, occurred_at)
