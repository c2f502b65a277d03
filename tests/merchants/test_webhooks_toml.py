"""shopify.app.toml and Beam's webhook URLs agree both ways."""

from __future__ import annotations

import tomllib
from pathlib import Path

from django.conf import settings
from django.urls import resolve

from merchants import inbox
from merchants.shopify.webhooks import webhook_receive

TOML = Path(settings.BASE_DIR) / "shopify.app.toml"


def config() -> dict:
    return tomllib.loads(TOML.read_text())


def test_every_subscription_resolves_to_the_webhook_view_serving_its_topics() -> None:
    subscriptions = config()["webhooks"]["subscriptions"]

    for sub in subscriptions:
        match = resolve(sub["uri"])
        topics = set(sub.get("topics", [])) | set(sub.get("compliance_topics", []))
        assert match.func is webhook_receive, sub["uri"]
        assert topics and topics <= match.kwargs["topics"], sub


def test_every_topic_endpoint_is_subscribed() -> None:
    subscriptions = config()["webhooks"]["subscriptions"]
    by_uri = {
        sub["uri"]: set(sub.get("topics", [])) | set(sub.get("compliance_topics", []))
        for sub in subscriptions
    }

    for topic in inbox.WEBHOOK_TOPICS:
        assert by_uri.get(f"/webhooks/{topic}") == {topic}
    compliance = [s for s in subscriptions if "compliance_topics" in s]
    assert compliance == [
        {
            "compliance_topics": ["customers/data_request", "customers/redact", "shop/redact"],
            "uri": "/webhooks/compliance",
        }
    ]


def test_app_settings_match_beams_settings() -> None:
    app = config()

    assert app["name"] == "Beam"
    assert app["embedded"] is True
    assert app["webhooks"]["api_version"] == settings.SHOPIFY_API_VERSION
    assert app["access_scopes"]["scopes"] == settings.SHOPIFY_SCOPES
    assert app["access_scopes"]["use_legacy_install_flow"] is False
    assert all(url.endswith("/auth/callback") for url in app["auth"]["redirect_urls"])
    assert resolve("/auth/callback").url_name == "auth_callback"
    assert (app["app_proxy"]["subpath"], app["app_proxy"]["prefix"]) == ("beam", "apps")
    assert app["pos"] == {"embedded": False}
