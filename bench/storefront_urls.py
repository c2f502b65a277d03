"""The bench server's URLs: all of Beam plus the floor, a minimal Django view."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as beam_urlpatterns


def floor(request: HttpRequest) -> JsonResponse:
    """The cheapest JSON a Django view can answer (the same middleware stack as Beam's)."""
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/floor", floor), *beam_urlpatterns]
