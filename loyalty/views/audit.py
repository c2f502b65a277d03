"""The audit trail (who changed what, when) and the admin's audited webhook replay."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from loyalty.admin_words import audit_lines
from loyalty.audit import audit_events_recent, replay_audit
from merchants import replay
from merchants.auth import embedded_admin_required
from merchants.models import WebhookDelivery
from merchants.selectors import webhook_health
from merchants.staff import staff_names
from merchants.views import webhooks
from merchants.views.pages import (
    admin_page,
    in_shop_timezone,
    page_links,
    request_shop,
    staff_actor,
)

AUDIT_PER_PAGE = 50


@embedded_admin_required
@in_shop_timezone
@require_safe
def audit(request: HttpRequest) -> HttpResponse:
    """Who changed what, when."""
    shop = request_shop(request)
    page = Paginator(audit_events_recent(shop=shop), AUDIT_PER_PAGE).get_page(
        request.GET.get("page")
    )
    events = list(page.object_list)
    names = staff_names(shop=shop, user_ids={e.actor for e in events})
    context = {
        "page": page,
        "pages": page_links(page, reverse("loyalty_admin:audit")),
        "rows": audit_lines(events, names),
        "zone": shop.iana_timezone,
    }
    return admin_page(request, "loyalty/audit.html", context)


@embedded_admin_required
@in_shop_timezone
@require_POST
def webhooks_replay(request: HttpRequest) -> HttpResponse:
    """Replay one failed delivery (``delivery_id``) or all of this shop's failed ones, through
    the inbox's one replay; the audit row commits with the re-queue."""
    shop = request_shop(request)
    raw = request.POST.get("delivery_id", "")
    ids: list[int] | None = None
    if raw:
        if not raw.isdigit() or not WebhookDelivery.objects.filter(shop=shop, pk=int(raw)).exists():
            raise Http404("No such delivery.")
        ids = [int(raw)]
    outcome = replay.deliveries_replay(
        shop=shop, delivery_ids=ids, on_queued=replay_audit(shop=shop, actor=staff_actor(request))
    )
    summary = ", ".join(f"{n} {s}" for s, n in sorted(outcome.items())) or "nothing to replay"
    return admin_page(
        request,
        webhooks.TEMPLATE,
        {**webhook_health(shop=shop), "replayed": summary},
        toast=f"Replayed: {summary}",
    )
