"""Serve ``requests`` calls to this very server in-process, for commands that run while no
server is listening (``demo_setup``): Beam's calls to the devstore and the devstore's
webhooks to Beam go through Django's test client instead of a socket.

Uses the ``responses`` library (a dev dependency; the demo is a development command)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import requests
from django.conf import settings


def _serve(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
    from django.test import Client

    parts = urlsplit(request.url or "")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {
        k: v for k, v in request.headers.items() if k.lower() not in {"content-length", "host"}
    }
    content_type = headers.pop("Content-Type", headers.pop("content-type", ""))
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    response = Client(raise_request_exception=False, HTTP_HOST=parts.netloc).generic(
        request.method or "GET",
        path,
        data=body,
        content_type=content_type or "application/octet-stream",
        headers=headers,
    )
    out = {k: v for k, v in response.items() if k.lower() != "content-length"}
    return response.status_code, out, response.content


@contextmanager
def inprocess_platform_http() -> Iterator[None]:
    """Route every ``requests`` call to ``SHOPIFY_APP_URL``'s origin through this process."""
    import responses

    origin = urlsplit(settings.SHOPIFY_APP_URL)
    pattern = re.compile(rf"^{re.escape(f'{origin.scheme}://{origin.netloc}')}(/.*)?$")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"):
            mock.add_callback(method, pattern, callback=_serve)
        mock.add_passthru(re.compile(r".*"))
        yield
