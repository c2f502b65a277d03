"""Reading an admin page as a merchant reads it: a figure's texts, a table's rows, a heading,
the current tab — found by the page's hooks (ids, ``data-kpi``, roles), whatever the markup
around them (Polaris cards, text classes). A small tree built with the standard library's
HTML parser; text is kept as written, so words split by inline tags read as on screen."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def raw_text(self) -> str:
        return "".join(c if isinstance(c, str) else c.raw_text() for c in self.children)

    def text(self) -> str:
        """The words of the element as written, spaces collapsed."""
        return " ".join(self.raw_text().split())

    def has(self, key: str, value: str | bool) -> bool:
        """Whether the element has attribute ``key`` (``True``: at all; a class: among its
        classes; else: equal to ``value``)."""
        if value is True:
            return key in self.attrs
        if key == "class":
            return str(value) in (self.attrs.get("class") or "").split()
        return self.attrs.get(key) == value

    def find_all(self, tag: str = "", **attrs: str | bool) -> list[Node]:
        """The elements (``tag``, if given) with every one of ``attrs``, in document order
        (``data_kpi`` → ``data-kpi``, ``class_`` → ``class``; see ``has``)."""
        wanted = {key.rstrip("_").replace("_", "-"): value for key, value in attrs.items()}
        return [
            e
            for e in self.walk()
            if (not tag or e.tag == tag) and all(e.has(k, v) for k, v in wanted.items())
        ]

    def find(self, tag: str = "", **attrs: str | bool) -> Node:
        """The first element ``find_all`` finds; LookupError when there is none."""
        found = self.find_all(tag, **attrs)
        if not found:
            raise LookupError(f"no <{tag or '*'}> with {attrs} on the page")
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        self.open[-1].children.append(node)
        if tag not in VOID:
            self.open.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(data)


def read_page(html: str) -> Node:
    """The parsed page (or partial)."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def kpi_names(html: str) -> list[str]:
    """The figures the page shows (their ``data-kpi``), in order."""
    return [str(e.attrs["data-kpi"]) for e in read_page(html).walk() if "data-kpi" in e.attrs]


def kpi(html: str, name: str) -> list[str]:
    """The texts of the figure ``name``: its value, then its notes (its ``dd``s)."""
    return [dd.text() for dd in read_page(html).find(data_kpi=name).walk() if dd.tag == "dd"]


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The body rows of the table ``table_id``, each a list of its cells' texts."""
    body = read_page(html).find(id=table_id).find("tbody")
    return [
        [cell.text() for cell in row.children if isinstance(cell, Node)]
        for row in body.children
        if isinstance(row, Node) and row.tag == "tr"
    ]


def cells(html: str) -> list[str]:
    """The texts of every data cell of the page's tables."""
    return [td.text() for td in read_page(html).walk() if td.tag == "td"]


def numeric_cells(html: str) -> list[str]:
    """The texts of the data cells shown as numbers (right-aligned, ``beam-num``)."""
    return [td.text() for td in read_page(html).find_all("td", class_="beam-num")]


def links_to(html: str, href: str) -> list[Node]:
    """The links (``<a>``) to ``href``, in document order."""
    return read_page(html).find_all("a", href=href)
