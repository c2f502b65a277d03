"""Operational endpoints that are not about a shop: worker liveness."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

from core.worker_health import worker_heartbeat_age

logger = logging.getLogger(__name__)


@require_safe
def healthz_workers(request: HttpRequest) -> JsonResponse:
    """200 when a Celery worker consumed within ``WORKER_HEARTBEAT_MAX_AGE_SECONDS``, else
    503 (also when the cache cannot be read): for the platform's health check/alerting."""
    max_age = settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS
    try:
        age = worker_heartbeat_age()
    except Exception:  # any cache client error: cannot tell, so not ok
        logger.warning("worker heartbeat unreadable", exc_info=True)
        return JsonResponse({"ok": False, "reason": "heartbeat_unreadable"}, status=503)
    if age is None:
        return JsonResponse({"ok": False, "reason": "no_heartbeat"}, status=503)
    body = {"ok": age <= max_age, "age_seconds": round(age, 1), "max_age_seconds": max_age}
    if age > max_age:
        body["reason"] = "heartbeat_stale"
    return JsonResponse(body, status=200 if age <= max_age else 503)
