"""One JSON error shape for every API: ``{"error": {"code": ..., "message": ...}}``."""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from merchants.errors import BeamError


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map domain errors and DRF errors to the one error shape; never leak a 500 for bad input.
    Headers an error asks for (``response_headers``, e.g. the session-retry header) are set."""
    response = _error_response(exc, context)
    if response is not None:
        for name, value in getattr(exc, "response_headers", {}).items():
            response[name] = value
    return response


def _error_response(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, BeamError):
        return Response({"error": {"code": exc.code, "message": str(exc)}}, status=exc.http_status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "default_code", "error")
    detail = response.data
    message = (
        detail.get("detail", "Invalid input.") if isinstance(detail, dict) else "Invalid input."
    )
    body: dict[str, Any] = {"code": code, "message": str(message)}
    if isinstance(exc, exceptions.ValidationError):
        body["fields"] = detail
    response.data = {"error": body}
    return response
