"""Requests of the embedded admin as App Bridge sends them (session token in the header)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from django.test import Client

from merchants.models import Shop
from tests.merchants.embedded_helpers import installed_shop, session_token

SHOP_A = "acme.myshopify.com"
SHOP_B = "bravo.myshopify.com"


def admin_shop(domain: str = SHOP_A, **fields: Any) -> Shop:
    return installed_shop(domain, name=fields.pop("name", domain.split(".")[0].title()), **fields)


class AdminClient:
    """A Django test client that signs every request with a fresh session token of ``shop``
    (``sub`` = the staff user id) and sends it like htmx does."""

    def __init__(self, shop: Shop, *, user_id: str = "42", htmx: bool = True) -> None:
        self.shop = shop
        self.user_id = user_id
        self.htmx = htmx
        self.client = Client()

    def headers(self, htmx: bool | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {session_token(self.shop.domain, sub=self.user_id)}"}
        if self.htmx if htmx is None else htmx:
            headers["HX-Request"] = "true"
        return headers

    def get(self, url: str, *, htmx: bool | None = None, **kwargs: Any):
        return self.client.get(url, headers=self.headers(htmx), **kwargs)

    def post(self, url: str, data: Any = None, *, htmx: bool | None = None, **kwargs: Any):
        return self.client.post(url, data or {}, headers=self.headers(htmx), **kwargs)


def reads(html: str, *parts: str) -> bool:
    """Whether the page shows ``parts`` one after the other, with only markup and spaces
    between them (as a person reads it, whatever the tags)."""
    between = r"(?:\s|<[^>]+>)*"
    return re.search(between.join(re.escape(part) for part in parts), html) is not None


class _Elements(HTMLParser):
    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag
        self.found: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == self.tag:
            self.found.append(dict(attrs))


def elements(html: str, tag: str = "input", **match: str) -> list[dict[str, str | None]]:
    """The attributes of the page's ``tag`` elements whose attributes include ``match``
    (``checked`` is a key, whatever the attribute order or the markup around it)."""
    parser = _Elements(tag)
    parser.feed(html)
    return [attrs for attrs in parser.found if all(attrs.get(k) == v for k, v in match.items())]
