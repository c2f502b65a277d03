"""The one check of a shop's hostname: nothing builds a URL, a CSP or a query from a shop
domain that did not pass it.

The pattern is the platform's documented one. ShopifyAPI's ``shop_url.sanitize_shop_domain``
is not this check: it accepts forms the docs say to reject (a scheme, a path, a bare name,
surrounding spaces) and refuses one-character names the pattern allows.
"""

import re

SHOP_DOMAIN_RE = re.compile(r"\A[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com\Z")


def shop_domain_is_valid(value: object) -> bool:
    """True when ``value`` is exactly ``<name>.myshopify.com`` (anchored both ends)."""
    return isinstance(value, str) and len(value) <= 255 and bool(SHOP_DOMAIN_RE.match(value))


def shop_domain_normalise(value: object) -> str | None:
    """The lower-cased domain when valid, else ``None``."""
    if not shop_domain_is_valid(value):
        return None
    assert isinstance(value, str)
    return value.lower()
