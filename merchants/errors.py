"""Domain errors. Each carries the HTTP status and a stable code the APIs answer with."""


class BeamError(Exception):
    """Base of every expected failure; ``code`` is stable, the message is for people."""

    code = "error"
    http_status = 400

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        if code:
            self.code = code


class InvalidShopDomain(BeamError):
    """The shop domain is not a valid myshopify.com domain."""

    code = "invalid_shop"


class SignatureInvalid(BeamError):
    """The request signature is missing, stale or does not match."""

    code = "invalid_signature"
    http_status = 401


class ShopNotInstalled(BeamError):
    """The shop has not installed Beam or has uninstalled it."""

    code = "shop_not_installed"
    http_status = 403


class ShopifyApiError(BeamError):
    """The platform's Admin API failed (network, 5xx, throttled past retries)."""

    code = "platform_error"
    http_status = 502


class ShopifyUserError(ShopifyApiError):
    """The platform refused the mutation's input (``userErrors``)."""

    code = "platform_rejected"
    http_status = 422

    def __init__(self, message: str = "", *, user_errors: list[dict] | None = None) -> None:
        super().__init__(message)
        self.user_errors = user_errors or []


class ShopifyAuthError(ShopifyApiError):
    """The platform rejected the shop's access token and it could not be refreshed."""

    code = "platform_unauthorized"
