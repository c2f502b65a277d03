"""The app page the store admin frames: ``?path=`` of the admin's app page.

The platform's admin loads an embedded app at its app URL plus the path the merchant was on
(``/admin/apps/<app>/<path>`` frames ``<app URL><path>``), so a reload or a copied admin link
lands on the same app page. The devstore carries that path as a query parameter. It must
stay a path on the app: anything that could make the frame load another site (an absolute
or scheme-relative URL, backslashes, dot segments) is refused with the reason, never
followed."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

from devstore.errors import DevstoreError

MAX_LENGTH = 2048
# What the platform adds to every app load: an app path cannot choose these.
PLATFORM_PARAMS = frozenset(
    {"embedded", "hmac", "host", "id_token", "locale", "session", "shop", "timestamp"}
)
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")


class AppPathInvalid(DevstoreError):
    """The ``path`` parameter is not a relative path on the app; the message says why."""


def app_path_parse(raw: str) -> tuple[str, dict[str, str]]:
    """``raw`` as (path, query parameters) on the app, the platform's own parameters left
    out (the admin adds fresh ones); a repeated parameter keeps its last value, as the
    signed query carries one value per name. Raises ``AppPathInvalid``."""
    if not raw:
        raise AppPathInvalid("the path is empty; leave it out to open the app's home")
    if len(raw) > MAX_LENGTH:
        raise AppPathInvalid(f"the path is longer than {MAX_LENGTH} characters")
    if _CONTROL_OR_SPACE.search(raw):
        raise AppPathInvalid("the path contains spaces or control characters")
    if "\\" in raw:
        raise AppPathInvalid("the path contains a backslash")
    if not raw.startswith("/") or raw.startswith("//"):
        raise AppPathInvalid("the path must start with a single '/' (a path on the app)")
    if "#" in raw:
        raise AppPathInvalid("the path cannot carry a fragment ('#')")
    parts = urlsplit(raw)
    if parts.scheme or parts.netloc:
        raise AppPathInvalid("the path must be relative to the app, not a URL")
    if any(unquote(segment) in {".", ".."} for segment in parts.path.split("/")):
        raise AppPathInvalid("the path cannot contain '.' or '..' segments")
    query = {
        key: value
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key not in PLATFORM_PARAMS
    }
    return parts.path, query
