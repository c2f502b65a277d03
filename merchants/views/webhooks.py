"""Webhook health: recent deliveries per topic, failures with their error, the last
reconciliation. (Replaying is the admin's audited action, ``loyalty.views.audit``.)"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from merchants.auth import embedded_admin_required
from merchants.selectors import webhook_health
from merchants.views.pages import admin_page, in_shop_timezone, request_shop

TEMPLATE = "merchants/webhooks.html"


@embedded_admin_required
@in_shop_timezone
@require_safe
def webhooks(request: HttpRequest) -> HttpResponse:
    """Recent deliveries per topic, failures with their error, the last reconciliation."""
    return admin_page(request, TEMPLATE, webhook_health(shop=request_shop(request)))
