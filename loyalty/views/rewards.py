"""The rewards catalogue: list, create, edit (hide by unticking "shown")."""

from __future__ import annotations

from django.db.models import Count
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from loyalty import services
from loyalty.errors import (
    InvalidConfiguration,
    RewardNotAvailable,
)
from loyalty.forms import (
    RewardForm,
    form_service_error,
)
from loyalty.models import Reward, Tier
from merchants.auth import embedded_admin_required
from merchants.models import Shop
from merchants.views.pages import (
    admin_page,
    admin_redirect,
    in_shop_timezone,
    request_shop,
    shop_row_or_404,
    staff_actor,
)


def _reward_get(shop: Shop, reward_id: int) -> Reward:
    return shop_row_or_404(Reward, shop, reward_id, "No such reward.")


@embedded_admin_required
@in_shop_timezone
@require_safe
def rewards(request: HttpRequest) -> HttpResponse:
    shop = request_shop(request)
    catalogue = (
        Reward.objects.filter(shop=shop)
        .annotate(issued=Count("redemptions"))
        .order_by("-active", "points_cost", "pk")
    )
    return admin_page(request, "loyalty/rewards.html", {"rewards": catalogue})


def _reward_form_page(request: HttpRequest, reward: Reward | None) -> HttpResponse:
    shop = request_shop(request)
    initial = (
        {name: getattr(reward, name) for name in RewardForm.base_fields if name != "min_tier"}
        | {"min_tier": reward.min_tier_id}
        if reward is not None
        else None
    )
    tiers = list(
        Tier.objects.filter(shop=shop, active=True, settings__enabled=True)
        .order_by("rank", "pk")
        .values_list("pk", "name")
    )
    archived = None
    own_tier = reward.min_tier_id if reward is not None else None
    if tiers and own_tier is not None and own_tier not in dict(tiers):
        archived = Tier.objects.filter(shop=shop, pk=own_tier).values_list("pk", "name").first()
    form = RewardForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        tiers=tiers,
        archived_tier=archived,
    )
    if request.method == "POST" and form.is_valid():
        try:
            if reward is None:
                services.reward_create(
                    shop=shop, actor=staff_actor(request), data=form.service_data()
                )
                toast = "Reward created"
            else:
                services.reward_update(
                    shop=shop,
                    actor=staff_actor(request),
                    reward_id=reward.pk,
                    data=form.service_data(),
                )
                toast = "Reward saved"
        except InvalidConfiguration as exc:
            form_service_error(form, exc)
        except RewardNotAvailable as exc:
            raise Http404("No such reward.") from exc
        else:
            return admin_redirect(request, reverse("loyalty_admin:rewards"), toast=toast)
    status = 422 if form.errors else 200
    context = {"form": form, "reward": reward, "kinds": Reward.Kind}
    return admin_page(request, "loyalty/reward_form.html", context, status=status)


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def reward_new(request: HttpRequest) -> HttpResponse:
    return _reward_form_page(request, None)


@embedded_admin_required
@in_shop_timezone
@require_http_methods(["GET", "POST"])
def reward_edit(request: HttpRequest, reward_id: int) -> HttpResponse:
    return _reward_form_page(request, _reward_get(request_shop(request), reward_id))
