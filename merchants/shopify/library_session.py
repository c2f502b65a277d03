"""The platform's own Python library (ShopifyAPI), configured without process-global state.

``shopify.Session`` reads the app's credentials from class attributes, and
``Session.setup(...)`` sets them for the whole process. Beam passes credentials explicitly
instead: one subclass per (API key, secret), so the current and the previous secret of a
rotation, or tests that change settings, never see each other's values.
"""

from __future__ import annotations

from functools import lru_cache

import shopify


@lru_cache(maxsize=8)
def app_session_class(*, api_key: str = "", secret: str = "") -> type[shopify.Session]:
    """A ``shopify.Session`` subclass bound to these credentials, created once per pair.

    Its classmethods (``calculate_hmac``, ``validate_hmac``) read ``secret``; instances
    (``create_permission_url``) read ``api_key``. Everything else the library would take
    from a global ``setup`` is pinned to the platform's defaults too."""
    attributes = {
        "api_key": api_key,
        "secret": secret,
        "protocol": "https",
        "myshopify_domain": "myshopify.com",
        "port": None,
    }
    return type("BeamAppSession", (shopify.Session,), attributes)
