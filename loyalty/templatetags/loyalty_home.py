"""``{% program_status shop %}``: the program's state on the admin's Home (the merchants app
renders Home but never imports loyalty; this tag is how the page asks)."""

from __future__ import annotations

from typing import Any

from django import template

from loyalty.models import LoyaltyProgram
from merchants.models import Shop

register = template.Library()


@register.inclusion_tag("loyalty/_program_status.html")
def program_status(shop: Shop) -> dict[str, Any]:
    """Launched (live or paused) or not yet set up; Home offers the wizard only then."""
    program = LoyaltyProgram.objects.filter(shop=shop).first()
    return {"program": program, "launched": bool(program and program.onboarded_at)}
