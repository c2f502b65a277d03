"""``/webhooks/<topic>`` for every subscribed topic and ``/webhooks/compliance``."""

from django.urls import path

from merchants import inbox
from merchants.shopify.webhooks import webhook_receive

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
]
