from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from core.views import healthz_workers
from storefront_widget import views as storefront_views

# The storefront's app-proxy routes come first: they take most of the traffic, and the
# prefixes are disjoint, so the order changes nothing but the work of resolving them.
urlpatterns = [
    # The platform forwards the bare ``/apps/beam`` to the proxy URL as configured (no
    # trailing slash): answer the landing page there rather than redirect to ``/proxy/``,
    # a path the store does not have.
    path("proxy", storefront_views.landing, name="landing_bare"),
    path("proxy/", include("storefront_widget.urls")),
    path("", include("merchants.urls")),
    path("admin/analytics/", include("loyalty.analytics.urls")),
    path("admin/", include("loyalty.admin_urls")),
    path("webhooks/", include("merchants.shopify.webhook_urls")),
    path("ext/", include("storefront_widget.extension_urls")),
    path("api/v1/", include("storefront_widget.inbound_urls")),
    path("ops/", admin.site.urls),
    path("healthz/workers", healthz_workers, name="healthz_workers"),
]

if settings.DEVSTORE_ENABLED:
    urlpatterns.append(path("devstore/", include("devstore.urls")))
