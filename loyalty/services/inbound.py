"""Calls into Beam that award ways to earn: the shop's API key (issued and rotated by the
merchant, audited), product reviews from a review app (stored in the inbox first, then
applied by ``review_apply``) and the custom-action API (``custom_action_call``).

Both award through ``action_award`` under unique keys, so a retried webhook or call never
awards twice: ``review:<review id>`` and ``review_photo:<review id>`` (reversed by
``action_reverse`` when the review is deleted or stops being published) and
``custom:<name>:<idempotency key>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, transaction

from loyalty.audit import audit_record
from loyalty.errors import MemberNotFound, PayloadInvalid
from loyalty.models import Member
from loyalty.models_earning import ActionAward
from loyalty.rules import earning_actions as rules
from loyalty.rules.inbound import DELETED, CustomActionCall, review_from_stored
from loyalty.services.earning_actions import (
    ALREADY,
    LIMIT,
    AwardOutcome,
    action_award,
    action_find,
    action_reverse,
    shop_today,
)
from loyalty.services.program_config import program_get_or_create
from merchants.errors import BeamError
from merchants.inbound_keys import IssuedKey, api_key_issue
from merchants.inbox import REVIEW_TOPIC
from merchants.models import Shop, WebhookDelivery


class CustomActionUnknown(BeamError):
    """No custom action of this name in the shop."""

    code = "unknown_action"
    http_status = 404


class CustomActionOff(BeamError):
    """The action (or the whole program) is off, or gives no points."""

    code = "action_off"
    http_status = 409


class CustomActionLimit(BeamError):
    """The customer reached the action's limit for this period."""

    code = "limit_reached"
    http_status = 409


class IdempotencyKeyReused(BeamError):
    """The idempotency key was used for another customer."""

    code = "idempotency_key_reused"
    http_status = 409


def api_key_create(*, shop: Shop, actor: str) -> IssuedKey:
    """Create or rotate the shop's API key and audit it (the key itself is never logged);
    the caller shows ``key`` once."""
    with transaction.atomic(durable=True):
        issued = api_key_issue(shop=shop)
        audit_record(
            shop=shop,
            actor=actor,
            action="api_key.rotate" if issued.rotated else "api_key.create",
            target_type="api_key",
            target_id=shop.pk,
            summary=f"API key …{issued.hint}"
            + (" (the previous key still works for 24 hours)" if issued.rotated else ""),
        )
    return issued


def member_for(*, shop: Shop, customer_id: int | None, email: str) -> Member | None:
    """The member a caller names: by the store's customer id, else by email (a redacted
    member is nobody). Members are created from the store's customers, never from here."""
    members = Member.objects.filter(shop=shop, redacted=False)
    if customer_id is not None:
        found = members.filter(customer_id=customer_id).first()
        if found is not None:
            return found
    if email:
        return members.filter(email=email).order_by("pk").first()
    return None


def _customer_words(customer_id: int | None, email: str) -> str:
    named = [f"customer id {customer_id}" if customer_id is not None else "", email]
    return " / ".join(n for n in named if n)


# --- reviews ---------------------------------------------------------------------------------


REVIEW_KINDS = (rules.REVIEW, rules.REVIEW_PHOTO)
DECIDED = "decided"  # the review's first publication event decided it (a refusal stands)


def review_keys(review_id: str) -> dict[str, str]:
    return {kind: f"{kind}:{review_id}" for kind in REVIEW_KINDS}


def review_apply(*, shop: Shop, payload: dict) -> dict[str, AwardOutcome | ActionAward | None]:
    """Apply one stored review event (the inbox handler): a published review earns the
    review points and, with a photo, the photo bonus, each once per review id and decided
    at its first publication (a refusal then is final, ``_review_decided``); a deleted or
    unpublished one takes both back once. ``PayloadInvalid`` (the inbox parks the delivery
    with the reason, replayable once the member exists) when nobody earns it."""
    event = review_from_stored(payload)
    keys = review_keys(event.review_id)
    if not event.earns:
        reason = "review deleted" if event.event == DELETED else "review unpublished"
        return {
            kind: action_reverse(shop=shop, key=key, reason=reason) for kind, key in keys.items()
        }
    deleted = WebhookDelivery.objects.filter(
        shop=shop, topic=REVIEW_TOPIC, payload__review_id=event.review_id, payload__event=DELETED
    )
    if deleted.exists():  # the deletion overtook its creation: it stays deleted
        return {}
    member = member_for(shop=shop, customer_id=event.customer_id, email=event.email)
    if member is None:
        raise PayloadInvalid(
            f"No member for {_customer_words(event.customer_id, event.email)}: the review "
            "earns nothing until the customer is a member (replay this delivery then)."
        )
    done: dict[str, AwardOutcome | ActionAward | None] = {}
    decided = _review_decided(shop, event.review_id)
    for kind in REVIEW_KINDS if event.has_photo else REVIEW_KINDS[:1]:
        if kind in decided and not ActionAward.objects.filter(shop=shop, key=keys[kind]).exists():
            done[kind] = AwardOutcome(DECIDED)  # refused at its first publication
            continue
        done[kind] = action_award(
            shop=shop,
            member_id=member.pk,
            kind=kind,
            key=keys[kind],
            source_ref=event.review_id,
        )
    return done


def _review_decided(shop: Shop, review_id: str) -> set[str]:
    """The kinds (review, photo bonus) whose award this review's first publication event
    already decided: an earlier delivery of it, processed while published (with a photo,
    for the bonus). A refusal then stands (a limit reached that day, the action off), so
    editing the review in a new period never earns it; the inbox keeps every delivery."""
    earlier = WebhookDelivery.objects.filter(
        shop=shop,
        topic=REVIEW_TOPIC,
        payload__review_id=review_id,
        payload__published=True,
        status=WebhookDelivery.Status.SUCCEEDED,
    ).exclude(payload__event=DELETED)
    photos = earlier.filter(payload__has_photo=True)
    return {
        kind
        for kind, found in ((rules.REVIEW, earlier), (rules.REVIEW_PHOTO, photos))
        if found.exists()
    }


def review_webhook_id(shop: Shop, body_digest: str) -> str:
    """The inbox's unique id of a review delivery: a byte-identical retry is a duplicate."""
    return f"review:{shop.pk}:{body_digest}"


# --- custom actions ----------------------------------------------------------------------


@dataclass(frozen=True)
class CustomActionResult:
    """What the API answers: ``replayed`` when the key had awarded before."""

    award: ActionAward
    replayed: bool


def custom_action_call(*, shop: Shop, call: CustomActionCall) -> CustomActionResult:
    """Award the shop's custom action ``call.action`` once per idempotency key. A replay
    answers the first award (even if the action was turned off since); the errors say why
    nothing was awarded (unknown action 404, off 409, limit 409, unknown customer 404)."""
    action = action_find(shop=shop, kind=rules.CUSTOM, name=call.action)
    if action is None:
        raise CustomActionUnknown(f"No custom action named {call.action!r} in this shop.")
    member = member_for(shop=shop, customer_id=call.customer_id, email=call.email)
    earlier = _earlier(shop, call, member)
    if earlier is not None:
        return earlier
    program = program_get_or_create(shop=shop)
    if not (program.enabled and action.enabled and action.points > 0):
        raise CustomActionOff(
            f"The custom action {call.action!r} is off (or gives no points, or the program is off)."
        )
    if member is None:
        raise MemberNotFound(
            f"No member for {_customer_words(call.customer_id, call.email)} in this shop."
        )
    on: date = shop_today(shop, call.occurred_at) if call.occurred_at else shop_today(shop)
    try:
        outcome = action_award(
            shop=shop,
            member_id=member.pk,
            kind=rules.CUSTOM,
            name=call.action,
            key=call.award_key,
            on=on,
            source_ref=call.idempotency_key,
        )
    except IntegrityError:  # the same key, another member, at the same moment
        earlier = _earlier(shop, call, member)
        if earlier is None:
            raise
        return earlier
    if outcome.status == LIMIT:
        raise CustomActionLimit(
            f"This customer already earned {call.action!r} as often as its limit allows."
        )
    if outcome.award is None:  # turned off in between
        raise CustomActionOff(f"The custom action {call.action!r} is off.")
    return CustomActionResult(outcome.award, replayed=outcome.status == ALREADY)


def _earlier(
    shop: Shop, call: CustomActionCall, member: Member | None
) -> CustomActionResult | None:
    earlier = ActionAward.objects.filter(shop=shop, key=call.award_key).first()
    if earlier is None:
        return None
    if member is not None and earlier.member_id != member.pk:
        raise IdempotencyKeyReused(
            "This idempotency_key already awarded the action to another customer."
        )
    return CustomActionResult(earlier, replayed=True)
