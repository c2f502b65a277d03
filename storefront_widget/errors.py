"""The storefront's errors and their one JSON shape, for both APIs (app proxy and ``/ext/``)
and the landing page: ``{"error": {"code": ..., "message": ...}}`` with the headers an error
asks for. DRF views get the same shape from ``merchants.api.exception_handler``."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse

from merchants.errors import BeamError


class SignatureMissing(BeamError):
    """The request carries no app-proxy signature."""

    code = "missing_signature"
    http_status = 401


class SignatureStale(BeamError):
    """The app-proxy timestamp is missing or outside the allowed window."""

    code = "stale_signature"
    http_status = 401


class CustomerIdInvalid(BeamError):
    """``logged_in_customer_id`` is not a customer id."""

    code = "invalid_customer"
    http_status = 400


class LoginRequired(BeamError):
    """Log in to use your points."""

    code = "login_required"
    http_status = 401


class RateLimited(BeamError):
    """Too many requests; try again shortly."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str = "", *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.response_headers = {"Retry-After": str(retry_after)}


class CustomerLoginRequired(BeamError):
    """This needs a logged-in customer; the buyer is browsing as a guest."""

    code = "customer_login_required"
    http_status = 401
    response_headers = {"WWW-Authenticate": 'Bearer error="insufficient_scope"'}


class OrderNotFound(BeamError):
    """No such order for this customer (yet: the order webhook may still be on its way)."""

    code = "order_not_found"
    http_status = 404


def json_response(data: Any, *, status: int = 200) -> HttpResponse:
    """Compact UTF-8 JSON, byte for byte what DRF's ``JSONRenderer`` writes."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return HttpResponse(body, status=status, content_type="application/json")


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(exc: BeamError) -> HttpResponse:
    """The one error shape, with the headers the error asks for (``Retry-After``)."""
    response = json_response(error_body(exc.code, str(exc)), status=exc.http_status)
    for name, value in getattr(exc, "response_headers", {}).items():
        response[name] = value
    return response
