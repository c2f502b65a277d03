"""Branding, Landing page and Shopper texts in the store admin's look: each page has one
page header, the Branding section's tabs, its form in a card with a Save button; the live
preview sits beside the branding form in a one-third column and still follows the form;
the shopper texts switch language with a segmented button group."""

from __future__ import annotations

import pytest

from loyalty import services
from tests.loyalty.admin_helpers import AdminClient, admin_shop
from tests.loyalty.page_reading import read_page

pytestmark = pytest.mark.django_db

SECTION = ["Launcher and panel", "Landing page", "Shopper texts"]


@pytest.fixture
def client() -> AdminClient:
    return AdminClient(admin_shop(), user_id="77")


@pytest.mark.parametrize(
    ("url", "heading", "current"),
    [
        ("/admin/branding/", "Branding", "Launcher and panel"),
        ("/admin/landing/", "Landing page", "Landing page"),
        ("/admin/texts/", "Texts shoppers see", "Shopper texts"),
    ],
)
@pytest.mark.parametrize("htmx", [True, False])
def test_each_page_has_its_header_the_section_tabs_and_a_save_button(
    client: AdminClient, url: str, heading: str, current: str, htmx: bool
) -> None:
    html = client.get(url, htmx=htmx).content.decode()
    page = read_page(html).find(id="beam-main") if not htmx else read_page(html)

    assert [h.text() for h in page.find_all("h1")] == [heading]
    tabs = page.find("nav", aria_label="Section")
    assert [a.text() for a in tabs.find_all("a")] == SECTION
    assert [a.text() for a in tabs.find_all("a", aria_current="page")] == [current]
    form = page.find("form", data_beam_save_bar=True)
    assert form.attrs["hx-post"] == url == form.attrs["action"]
    save = form.find("button", type="submit")
    assert save.text() == "Save"
    assert "<script>" not in html and "style=" not in html


def test_the_live_preview_sits_beside_the_form_and_follows_it(client: AdminClient) -> None:
    page = read_page(client.get("/admin/branding/").content.decode())

    main, side = page.find(class_="Polaris-Layout").find_all(class_="Polaris-Layout__Section")
    assert side.has("class", "Polaris-Layout__Section--oneThird")
    assert main.find("form", id="beam-branding-form")
    follower = side.find(hx_post="/admin/branding/preview")
    assert follower.attrs["hx-include"] == "#beam-branding-form"
    assert follower.attrs["hx-target"] == "#beam-preview"
    assert follower.find("h2").text() == "Live preview"
    frame = follower.find(id="beam-preview").find("iframe", id="beam-preview-frame")
    assert frame.attrs["src"].startswith("/admin/branding/preview-frame/")
    assert frame.attrs["title"] == "Preview of the launcher and rewards panel"


def test_the_colours_are_colour_pickers(client: AdminClient) -> None:
    page = read_page(client.get("/admin/branding/").content.decode())

    for name in ("primary_color", "text_color"):
        picker = page.find("input", name=name)
        assert picker.attrs["type"] == "color"
        assert "Polaris-TextField__Input" not in str(picker.attrs.get("class"))


def test_shopper_texts_switch_language_with_buttons(client: AdminClient) -> None:
    program = services.program_get_or_create(shop=client.shop)
    program.branding = {**program.branding, "languages": ["en", "fr"]}
    program.save(update_fields=["branding"])

    page = read_page(client.get("/admin/texts/?lang=fr").content.decode())

    switch = page.find("nav", aria_label="Language")
    links = switch.find_all("a")
    assert [(a.text(), a.attrs["href"]) for a in links] == [
        ("EN", "/admin/texts/?lang=en"),
        ("FR", "/admin/texts/?lang=fr"),
    ]
    assert [a.attrs["hx-get"] for a in links] == [a.attrs["href"] for a in links]
    assert [a.text() for a in switch.find_all("a", aria_current="true")] == ["FR"]
    assert page.find("input", name="lang").attrs["value"] == "fr"
