"""``/webhooks/<topic>`` for every subscribed topic and ``/webhooks/compliance``; any other
path under ``/webhooks/`` answers a JSON 404 in the shape of the other webhook answers."""

from django.http import HttpRequest, JsonResponse
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt

from merchants import inbox
from merchants.shopify.webhooks import webhook_receive


@csrf_exempt
def webhook_unknown(request: HttpRequest, rest: str) -> JsonResponse:
    """A topic Beam does not subscribe to: the platform (or a misconfigured subscription)
    gets a JSON answer, never Django's HTML 404 page."""
    return JsonResponse(
        {"error": "unknown_topic", "detail": f"No webhook endpoint for {rest[:64]!r}."},
        status=404,
    )


urlpatterns = [
    *(
        path(
            topic,
            webhook_receive,
            {"topics": frozenset({topic})},
            name="webhook_" + topic.replace("/", "_"),
        )
        for topic in inbox.WEBHOOK_TOPICS
    ),
    path(
        "compliance",
        webhook_receive,
        {"topics": inbox.COMPLIANCE_TOPICS},
        name="webhook_compliance",
    ),
    re_path(r"^(?P<rest>.*)$", webhook_unknown, name="webhook_unknown"),
]
