"""Reading admin pages the way a person does, whatever the markup around the words: the
cells of a table, its rows, a link by its address, words that follow one another."""

from __future__ import annotations

import re
from html import unescape


def reads(html: str, *parts: str) -> bool:
    """Whether the page shows ``parts`` one after the other, with only markup and spaces
    between them."""
    between = r"(?:\s|<[^>]+>)*"
    return re.search(between.join(re.escape(part) for part in parts), html) is not None


def cells(html: str, text: str, *, numeric: bool = False) -> int:
    """How many table cells show exactly ``text``; with ``numeric``, only right-aligned number
    cells (``beam-num``) count."""
    klass = r' class="[^"]*\bbeam-num\b[^"]*"' if numeric else r'(?: class="[^"]*")?'
    return len(re.findall(rf"<td{klass}>{re.escape(text)}</td>", html))


def body_rows(html: str) -> int:
    """The rows of the first table body in ``html``."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return len(re.findall(r"<tr\b", body))


def links_to(html: str, href: str) -> list[dict[str, str]]:
    """The attributes of every ``<a>`` whose address is ``href`` (and its text, as ``text``)."""
    found = []
    for attrs, inner in re.findall(r"<a\b([^>]*)>(.*?)</a>", html, flags=re.S):
        pairs = dict(re.findall(r'([\w:-]+)(?:="([^"]*)")?', attrs))
        values = {name: unescape(value) for name, value in pairs.items()}
        if values.get("href") == href:
            values["text"] = unescape(re.sub(r"<[^>]+>", "", inner)).strip()
            found.append(values)
    return found
