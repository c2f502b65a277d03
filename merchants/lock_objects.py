"""Named row locks. Every read-modify-write of a shop's tokens goes through these."""

from django.db.models import QuerySet

from merchants.models import Shop


def shop_qs_select_for_update() -> QuerySet[Shop]:
    return Shop.objects.order_by("pk").select_for_update()
