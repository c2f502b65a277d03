"""The Ways to earn page's other ways to earn: every one listed with its switch, points,
limit, link and texts; saves are audited, refused with a reason, and reach the storefront."""

from __future__ import annotations

import re

import pytest

from loyalty.models import AuditEvent, EarningAction
from loyalty.selectors import program_document
from storefront_widget.selectors import program_document_cached
from tests.loyalty.admin_helpers import AdminClient, admin_shop, elements

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return admin_shop()


@pytest.fixture
def client(shop) -> AdminClient:
    return AdminClient(shop, user_id="77")


def follow_form(**over: str) -> dict[str, str]:
    return {
        "action": "social_follow:instagram",
        "lang": "en",
        "social_follow-instagram-enabled": "on",
        "social_follow-instagram-points": "30",
        "social_follow-instagram-limit": "once",
        "social_follow-instagram-url": "https://www.instagram.com/demo",
        "social_follow-instagram-title": "",
        "social_follow-instagram-description": "",
        **over,
    }


def test_every_way_to_earn_is_listed_off_with_its_defaults(client) -> None:
    html = client.get("/admin/earning/").content.decode()

    titles = re.findall(r'<h3 [^>]*id="beam-action-[^"]+-title">([^<]+)</h3>', html)
    assert titles == [
        "Celebrate your birthday",
        "Membership anniversary",
        "Sign up for our newsletter",
        "Follow us on Instagram",
        "Follow us on Facebook",
        "Follow us on TikTok",
        "Follow us on X",
        "Share us on Facebook",
        "Share us on X",
        "Write a review",
        "Add a photo to your review",
    ]
    assert elements(html, name="birthday-points", value="100")
    assert elements(html, name="birthday-limit", type="hidden", value="year")
    assert not elements(html, name="birthday-enabled", checked="")
    assert ' style="' not in html
    assert "cannot check that a shopper really followed" in html


def test_turning_on_a_follow_saves_audits_and_reaches_the_storefront(shop, client) -> None:
    assert program_document_cached(shop=shop)  # cached before the change
    response = client.post("/admin/earning/actions", follow_form())

    assert response.status_code == 200
    action = EarningAction.objects.get(shop=shop)
    assert (action.key, action.enabled, action.points, action.url) == (
        "social_follow:instagram",
        True,
        30,
        "https://www.instagram.com/demo",
    )
    assert action.enabled_at is not None
    audit = AuditEvent.objects.get(action="earning_action.update")
    assert (audit.actor, audit.summary) == ("77", "social_follow:instagram")
    assert audit.changes["points"] == [None, 30]
    keys = [e["key"] for e in program_document(shop=shop)["earning"]]
    assert "social_follow:instagram" in keys
    cached = program_document_cached(shop=shop).body.decode()
    assert "social_follow:instagram" in cached  # the cached document was dropped

    # saving the same values again writes nothing
    client.post("/admin/earning/actions", follow_form())
    assert AuditEvent.objects.filter(action="earning_action.update").count() == 1


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"social_follow-instagram-url": ""}, "url", "Give the address of your profile"),
        (
            {"social_follow-instagram-url": "https://evil.example/x"},
            "url",
            "Give an address on instagram.com.",
        ),
        ({"social_follow-instagram-points": "-1"}, "points", "greater than or equal to 0"),
        ({"social_follow-instagram-limit": "day"}, "limit", "cannot have that limit"),
        ({"social_follow-instagram-title": "<b>x</b>"}, "title", "Plain text on one line"),
    ],
)
def test_a_refused_setting_is_a_422_next_to_its_field(client, over, field, message) -> None:
    response = client.post("/admin/earning/actions", follow_form(**over))

    assert response.status_code == 422
    html = response.content.decode()
    if field != "limit":  # a hidden field's error shows above the form
        assert f'id="id_social_follow-instagram-{field}Error"' in html
    assert message in html
    assert not EarningAction.objects.exists()
    assert not AuditEvent.objects.exists()


def test_texts_are_saved_per_language(shop, client) -> None:
    from loyalty.models import LoyaltyProgram

    LoyaltyProgram.objects.create(shop=shop, branding={"languages": ["en", "fr"]})
    client.post("/admin/earning/actions", follow_form())
    client.post(
        "/admin/earning/actions",
        follow_form(lang="fr", **{"social_follow-instagram-title": "Suivez-nous"}),
    )

    assert EarningAction.objects.get().texts == {"fr": {"title": "Suivez-nous"}}
    html = client.get("/admin/earning/?lang=fr").content.decode()
    assert elements(html, name="social_follow-instagram-title", value="Suivez-nous")
    entry = next(
        e for e in program_document(shop=shop)["earning"] if e.get("kind") == "social_follow"
    )
    assert (entry["title"], entry["texts"]["fr"]["title"]) == (
        "Follow us on Instagram",
        "Suivez-nous",
    )


def test_an_unknown_way_to_earn_is_a_404(client) -> None:
    assert client.post("/admin/earning/actions", {"action": "nope"}).status_code == 404
