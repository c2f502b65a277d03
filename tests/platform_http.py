"""Platform HTTP in tests, without sockets.

Every outgoing ``requests`` call is intercepted by ``responses``. Calls to the test host
(``http://beam.test``, where both Beam and the devstore live in test settings) are served
in-process by Django's test client, so Beam's Admin API client talks to the real devstore
views and the devstore's webhooks reach Beam's real endpoints. Any other host fails, as it
would with no network. Tests can register extra responses on the mock to simulate outages.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests
import responses
from django.test import Client
from responses import BaseResponse, CallbackResponse
from responses.registries import FirstMatchRegistry

TEST_ORIGIN = "http://beam.test"
_ROUTED = re.compile(r"^http://beam\.test/.*")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _serve_in_process(request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(request.url or "")
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {
        k: v for k, v in request.headers.items() if k.lower() not in {"content-length", "host"}
    }
    content_type = headers.pop("Content-Type", headers.pop("content-type", ""))
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    response = Client(raise_request_exception=False, HTTP_HOST="beam.test").generic(
        request.method or "GET",
        path,
        data=body,
        content_type=content_type or "application/octet-stream",
        headers=headers,
    )
    out_headers = {k: v for k, v in response.items() if k.lower() != "content-length"}
    return response.status_code, out_headers, response.content


class _InProcessFallbackRegistry(FirstMatchRegistry):
    """Responses a test registers win (usual ``responses`` semantics); anything else on the
    test origin falls through to the in-process server, which is never used up."""

    def __init__(self) -> None:
        super().__init__()
        self.fallback = [
            CallbackResponse(method, _ROUTED, callback=_serve_in_process) for method in _METHODS
        ]

    def find(self, request: requests.PreparedRequest) -> tuple[BaseResponse | None, list[str]]:
        found, reasons = super().find(request)
        if found is not None:
            return found, reasons
        for response in self.fallback:
            matched, _ = response.matches(request)
            if matched:
                return response, []
        return None, reasons


def platform_mock() -> responses.RequestsMock:
    """A mock (start it with ``with``) routing the test origin to the in-process server."""
    return responses.RequestsMock(
        assert_all_requests_are_fired=False, registry=_InProcessFallbackRegistry
    )
