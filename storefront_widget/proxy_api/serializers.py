"""Input validation of the storefront API (outputs are built by ``selectors``)."""

from __future__ import annotations

from typing import TypedDict

from rest_framework import serializers


class _IdField(TypedDict):
    max_length: int
    allow_blank: bool


ID_FIELD = _IdField(max_length=19, allow_blank=False)


class RedeemInputSerializer(serializers.Serializer):
    """``{"reward_id": "12", "client_key": "<uuid>", "points": 300?}``."""

    reward_id = serializers.RegexField(r"^[0-9]{1,19}$", **ID_FIELD)
    client_key = serializers.RegexField(r"^[A-Za-z0-9_-]{8,100}$")
    points = serializers.IntegerField(required=False, min_value=1, max_value=10_000_000)

    def to_internal_value(self, data: object) -> dict:
        if isinstance(data, dict) and isinstance(data.get("reward_id"), int):
            data = {**data, "reward_id": str(data["reward_id"])}
        return super().to_internal_value(data)


class BirthdayInputSerializer(serializers.Serializer):
    """``{"month": 5, "day": 1, "year": 1990?}`` (the rules check the date itself)."""

    month = serializers.IntegerField(min_value=1, max_value=12)
    day = serializers.IntegerField(min_value=1, max_value=31)
    year = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=9999)


class ActionClickInputSerializer(serializers.Serializer):
    """``{"kind": "social_follow", "network": "instagram"}``."""

    kind = serializers.ChoiceField(choices=["social_follow", "social_share"])
    network = serializers.RegexField(r"^[a-z]{1,16}$")


class ReferralClaimInputSerializer(serializers.Serializer):
    """``{"email": "friend@example.com"}`` (the service checks the address itself)."""

    email = serializers.CharField(max_length=254)
