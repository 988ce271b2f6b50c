"""The programme's settings and the platforms' ad rates: brand-wide (koc_programme:write, operators
and brand-wide keys). A change to what the formula reads recomputes every post's figures (or the
platform's) in the same transaction, so no list ever mixes old and new numbers."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils.translation import gettext as _

from koc.models import Platform, PlatformRate, Programme
from koc.services import formula
from scrm.errors import InvalidInput
from scrm.permissions import require_write

# name -> (max_digits, decimal_places, minimum, maximum) of a decimal; (minimum, maximum) of a whole number.
DECIMALS = {
    "like_weight": (6, 2, Decimal(0)), "save_weight": (6, 2, Decimal(0)), "comment_weight": (6, 2, Decimal(0)),
    "share_weight": (6, 2, Decimal(0)), "viral_rate": (6, 2, Decimal(0)),
    "score_spend_weight": (6, 2, Decimal(0)), "score_engagement_weight": (6, 2, Decimal(0)),
    "score_posts_weight": (6, 2, Decimal(0)), "score_community_weight": (6, 2, Decimal(0)),
}
INTEGERS = {
    "viral_interactions": (0, 2_147_483_647), "viral_min_views": (0, 2_147_483_647),
    "window_days": (7, 730), "period_months": (1, 12), "grace_percent": (0, 90),
}
FIELDS = (*DECIMALS, *INTEGERS)
FORMULA_FIELDS = frozenset({"like_weight", "save_weight", "comment_weight", "share_weight", "viral_rate",
                            "viral_interactions", "viral_min_views"})


def decimal_value(value, *, max_digits: int, places: int, minimum: Decimal) -> Decimal:
    """`value` (a number or its text) as a Decimal with at most `places` decimals; ValueError with
    the reason in words."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(_("A number."))
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(_("A number.")) from None
    if not number.is_finite():
        raise ValueError(_("A number."))
    if number < minimum:
        raise ValueError(_("At least %(min)s.") % {"min": minimum})
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(_("At most %(places)d decimal places.") % {"places": places})
    if number >= Decimal(10) ** (max_digits - places):
        raise ValueError(_("Less than %(max)s.") % {"max": Decimal(10) ** (max_digits - places)})
    return number.quantize(Decimal(1).scaleb(-places))


def _check(values: dict) -> tuple[dict, dict]:
    clean, errors = {}, {}
    for name, value in values.items():
        if name in DECIMALS:
            digits, places, minimum = DECIMALS[name]
            try:
                clean[name] = decimal_value(value, max_digits=digits, places=places, minimum=minimum)
            except ValueError as exc:
                errors[name] = [str(exc)]
        else:
            low, high = INTEGERS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                errors[name] = [_("A whole number from %(low)s to %(high)s.") % {"low": low, "high": high}]
            else:
                clean[name] = value
    return clean, errors


@transaction.atomic
def update_programme(*, actor, **values) -> Programme:
    """Change the programme's settings; when the interaction weights or the viral bars change,
    every post's figures are recomputed in the same transaction."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise TypeError(f"update_programme() got unknown fields {sorted(unknown)}")
    require_write(actor, "koc_programme")
    clean, errors = _check(values)
    if errors:
        raise InvalidInput(details=errors)
    Programme.current()
    programme = Programme.objects.select_for_update().get(pk=1)
    changed = {name for name, value in clean.items() if getattr(programme, name) != value}
    for name, value in clean.items():
        setattr(programme, name, value)
    programme.save()
    if changed & FORMULA_FIELDS:
        formula.recompute_all()
    return programme


@transaction.atomic
def set_rate(*, actor, platform, cpm, cpe=0) -> PlatformRate:
    """Set a platform's cost per 1,000 views and per interaction (yuan); its posts' media value is
    recomputed in the same transaction."""
    require_write(actor, "koc_programme")
    errors = {}
    if platform not in Platform.values:
        errors["platform"] = [_("Unknown platform “%(platform)s”.") % {"platform": platform}]
    clean = {}
    for name, value in (("cpm", cpm), ("cpe", cpe)):
        try:
            clean[name] = decimal_value(value, max_digits=10, places=2, minimum=Decimal(0))
        except ValueError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise InvalidInput(details=errors)
    rate, _created = PlatformRate.objects.select_for_update().update_or_create(platform=platform, defaults=clean)
    formula.recompute_all(platform=platform)
    return rate
