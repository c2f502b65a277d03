"""The loyalty landing page served through the app proxy."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from html import unescape

import pytest

from tests.loyalty.factories import RewardFactory

pytestmark = pytest.mark.django_db


def _json_ld(html: str) -> dict:
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert match is not None
    return json.loads(match.group(1))


def test_landing_is_a_complete_html_page_with_seo_tags(proxy, program, rewards):
    response = proxy.get("", customer=None)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert "<title>Bean Club · Demo Store</title>" in html
    assert re.search(r'<meta name="description" content="Join Demo Store Bean Club: earn', html)
    assert '<link rel="canonical" href="https://sf-shop.myshopify.com/apps/beam/">' in html
    assert '<link rel="stylesheet" href="landing.css?v=' in html
    assert "<script src" not in html and "<script>" not in html  # no JavaScript at all
    assert "style=" not in html


def test_landing_shows_ways_to_earn_rewards_faq_and_a_call_to_action(proxy, program, rewards):
    html = unescape(proxy.get("", customer=None).content.decode())

    assert "<h1>Welcome to Bean Club</h1>" in html
    assert "Ways to earn" in html and "Place an order" in html and "100 points" in html
    assert "€5 off" in html and "500 points" in html and "€20 off" in html
    assert "100 points = 1.00 EUR" in html  # the variable reward's rate
    assert "VIP tiers" not in html  # no tiers configured
    assert "Frequently asked questions" in html
    assert '<a class="bl-btn" href="/account/register">Join now</a>' in html
    assert 'href="/account/login"' in html


def test_structured_data_describes_the_page_and_its_faq(proxy, program, rewards):
    data = _json_ld(proxy.get("", customer=None).content.decode())

    page, faq = data["@graph"]
    assert data["@context"] == "https://schema.org"
    assert page["@type"] == "WebPage"
    assert page["url"] == "https://sf-shop.myshopify.com/apps/beam/"
    assert page["name"] == "Bean Club · Demo Store"
    assert faq["@type"] == "FAQPage"
    assert faq["mainEntity"][0]["name"] == "How do I join Bean Club?"
    assert faq["mainEntity"][0]["acceptedAnswer"]["@type"] == "Answer"


def test_merchant_landing_content_is_escaped_everywhere(proxy, program):
    program.landing = {
        "headline": "<b>Bold</b> club",
        "faq": [{"q": "Is </script><script>alert(1)</script> ok?", "a": "{{ customer.email }}"}],
    }
    program.save()

    html = proxy.get("", customer=None).content.decode()

    assert "<b>Bold</b>" not in html and "&lt;b&gt;Bold&lt;/b&gt; club" in html
    assert "</script><script>alert(1)" not in html
    faq = _json_ld(html)["@graph"][1]["mainEntity"]
    assert faq[0]["name"] == "Is </script><script>alert(1)</script> ok?"
    assert faq[0]["acceptedAnswer"]["text"] == "{{ customer.email }}"  # served as HTML, not Liquid


def test_landing_is_cached_per_shop_with_etag_and_follows_changes(proxy, program, shop):
    first = proxy.get("", customer=None)
    again = proxy.get("", customer=None, headers={"If-None-Match": first["ETag"]})
    RewardFactory(shop=shop, name="Tote bag", points_cost=900, value=Decimal("10.00"))
    changed = proxy.get("", customer=None, headers={"If-None-Match": first["ETag"]})

    assert first["Cache-Control"] == "public, no-cache"  # revalidated: cheap 304s
    assert again.status_code == 304
    assert changed.status_code == 200 and "Tote bag" in changed.content.decode()


def test_landing_query_count(proxy, program, rewards, django_assert_num_queries):
    with django_assert_num_queries(13):  # shop; program doc (6); landing data (6)
        proxy.get("", customer=None)
    with django_assert_num_queries(0):
        proxy.get("", customer=None)


def test_landing_stylesheet_carries_the_brand_colours(proxy, program):
    response = proxy.get("landing.css", customer=None, v="1")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/css; charset=utf-8"
    css = response.content.decode()
    assert css.startswith(":root{--beam-p:#e11d48;--beam-t:#ffffff}")
    assert ".bl-hero" in css


def test_landing_needs_a_valid_signature(client, shop):
    response = client.get(f"/proxy/?shop={shop.domain}")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_signature"


def test_paused_program_says_so(proxy, program, rewards):
    program.enabled = False
    program.save()

    html = proxy.get("", customer=None).content.decode()

    assert "The program is paused for now" in html
    assert "Join now" not in html


# --- issue 13 item 8: a member's page, shopper texts, the bare proxy root -------------------


def test_a_logged_in_member_sees_their_balance_and_no_invitation_to_join(
    proxy, program, rewards, member, give_points
):
    give_points(member, 1515)

    response = proxy.get("")

    html = unescape(response.content.decode())
    assert response.status_code == 200
    assert '<p class="bl-balance">Your balance: <strong>1,515 points</strong></p>' in html
    assert "Join now" not in html and "/account/register" not in html
    assert "Already a member?" not in html and "/account/login" not in html
    assert '<a class="bl-btn" href="/collections/all">Start shopping</a>' in html
    assert response["Cache-Control"] == "private, no-store"  # never in a shared cache


def test_the_member_page_does_not_leak_into_the_guests_cached_page(
    proxy, program, member, give_points
):
    give_points(member, 1515)
    proxy.get("")

    html = unescape(proxy.get("", customer=None).content.decode())

    assert "1,515" not in html and "Join now" in html


def test_a_logged_in_customer_without_points_sees_a_zero_balance(proxy, program):
    html = unescape(proxy.get("").content.decode())

    assert "Your balance: <strong>0 points</strong>" in html and "Join now" not in html


def test_every_landing_text_comes_from_the_shopper_texts(proxy, program, rewards):
    program.texts = {
        "fr": {
            "have_account": "Déjà membre ?",
            "log_in": "Se connecter",
            "start_shopping": "Voir la boutique",
            "sign_up": "Je m'inscris",
            "earn": "Gagner des points",
            "faq_title": "Questions fréquentes",
            "start_today": "Commencez dès aujourd'hui",
        }
    }
    program.branding = {**program.branding, "languages": ["fr", "en"]}
    program.save()

    html = unescape(proxy.get("", customer=None).content.decode())

    assert '<html lang="fr">' in html
    assert 'Déjà membre ? <a class="bl-link" href="/account/login">Se connecter</a>' in html
    assert ">Voir la boutique</a>" in html and ">Je m'inscris</a>" in html
    assert "Gagner des points" in html and "Questions fréquentes" in html
    for english in ("Already a member", "Log in", "Start shopping", "Join now", "Ways to earn"):
        assert english not in html


def test_the_storefront_language_picks_the_texts_when_the_program_offers_it(
    proxy, program, rewards
):
    program.texts = {"fr": {"start_shopping": "Voir la boutique"}}
    program.save()

    french = unescape(proxy.get("", customer=None, locale="fr-FR").content.decode())
    english = unescape(proxy.get("", customer=None, locale="en").content.decode())

    assert '<html lang="fr">' in french and "Voir la boutique" in french
    assert '<html lang="en">' in english and "Start shopping" in english


def test_the_bare_proxy_root_answers_the_landing_page(client, shop, program):
    from tests.storefront_widget.conftest import signed_query

    response = client.get(f"/proxy?{signed_query(shop.domain, None)}")

    html = unescape(response.content.decode())
    assert response.status_code == 200
    assert "<h1>Welcome to Bean Club</h1>" in html
    # /apps/beam resolves "beam/landing.css" to /apps/beam/landing.css
    assert '<link rel="stylesheet" href="beam/landing.css?v=' in html


def test_the_join_button_is_not_overridden_by_the_hero_link_colour(proxy, program):
    css = proxy.get("landing.css", customer=None, v="1").content.decode()

    assert ".bl-hero a{color:inherit}" not in css
    assert ".bl-hero a:not(.bl-btn){color:inherit}" in css


def test_the_default_headline_description_and_faq_are_shopper_texts_too(proxy, program):
    program.texts = {
        "fr": {
            "headline": "Bienvenue au {program}",
            "description": "Rejoignez {program} chez {shop} et gagnez des {points}.",
            "faq_join_q": "Comment rejoindre {program} ?",
            "faq_cancel_a": "Oui : vos {points} reviennent aussitôt.",
        }
    }
    program.branding = {**program.branding, "languages": ["fr"], "points_name": "grains"}
    program.save()

    html = unescape(proxy.get("", customer=None).content.decode())

    assert "<h1>Bienvenue au Bean Club</h1>" in html
    assert 'content="Rejoignez Bean Club chez Demo Store et gagnez des grains."' in html
    assert "<dt>Comment rejoindre Bean Club ?</dt>" in html
    assert "<dd>Oui : vos grains reviennent aussitôt.</dd>" in html
    faq = _json_ld(html)["@graph"][1]["mainEntity"]
    assert faq[0]["name"] == "Comment rejoindre Bean Club ?"


def test_a_guest_page_kept_by_a_cache_is_not_shown_after_logging_in(
    proxy, program, member, give_points
):
    give_points(member, 1515)
    guest = proxy.get("", customer=None)

    again = proxy.get("", headers={"If-None-Match": guest["ETag"]})  # now logged in

    assert "no-cache" in guest["Cache-Control"]  # a cache must ask again before reuse
    assert again.status_code == 200
    assert "1,515 points" in unescape(again.content.decode())


def test_referrals_on_show_how_they_work_with_the_offer_and_the_reward(proxy, program, shop):
    from loyalty.models import ReferralSettings

    assert "Refer a friend" not in proxy.get("", customer=None).content.decode()
    ReferralSettings.objects.create(
        shop=shop,
        enabled=True,
        offer_kind="percent",
        offer_value=Decimal("15"),
        offer_minimum=Decimal("40"),
        reward_points=1500,
    )

    html = unescape(proxy.get("", customer=None).content.decode())

    section = html.split('<h2 id="bl-refer">Refer a friend</h2>')[1].split("</section>")[0]
    steps = re.findall(r"<p>(.*?)</p>", section)
    assert steps == [
        "Share your referral link from the rewards panel.",
        "Your friend gets 15% off their first order. On orders over 40.00 EUR.",
        "You get 1,500 points once their order is paid.",
    ]
