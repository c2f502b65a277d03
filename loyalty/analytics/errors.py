"""Errors of the analytics dashboard (shown to the merchant with a 400)."""

from __future__ import annotations

from merchants.errors import BeamError


class InvalidPlanPrice(BeamError):
    code = "invalid_plan_price"
    http_status = 400


class InvalidDateRange(BeamError):
    code = "invalid_date_range"
    http_status = 400
