"""The application's URLs plus the floor of the ingest bench: a minimal Django view."""

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as app_urlpatterns


@csrf_exempt
def minimal(request: HttpRequest) -> HttpResponse:
    """The cheapest answer Django gives through the same middleware and server."""
    return HttpResponse(b'{"ok": true}', content_type="application/json")


urlpatterns = [path("bench/minimal", minimal), *app_urlpatterns]
