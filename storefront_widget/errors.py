"""Storefront API errors (``BeamError`` subclasses: stable code + HTTP status)."""

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


class RedemptionNotFound(BeamError):
    """No such redemption for this customer."""

    code = "redemption_not_found"
    http_status = 404
