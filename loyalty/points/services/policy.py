"""The points policy: how orders earn (rates, multipliers) and when points expire, the currency
labels of explanations, and who may change the rules (operators)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from loyalty.points.models import ExpiryMode, PointsPolicy
from scrm.actors import SystemActor, actor_user
from scrm.errors import Forbidden, InvalidInput
from scrm.permissions import require_write

CURRENCY_SYMBOLS = {
    "CNY": "¥",
    "RMB": "¥",
    "HKD": "HK$",
    "MOP": "MOP$",
    "TWD": "NT$",
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "JP¥",
    "SGD": "S$",
}


def currency_symbol(code: str) -> str:
    return CURRENCY_SYMBOLS.get(code, f"{code} ")


def reporting_currency() -> str:
    return settings.SIYU_CURRENCIES[0]


def is_operator(actor) -> bool:
    return (
        isinstance(actor, SystemActor)
        or getattr(actor, "is_operator", False)
        or (getattr(actor, "api_key", None) is not None)
    )


def require_operator(actor) -> None:
    # API keys reach here only with the scope the view demands; store roles never do.
    if not is_operator(actor):
        raise Forbidden(_("Only operators may do this."))


def expiry_sql(column: str) -> str:
    """SQL for the expiry of points earned at `column`, from the policy parameters in the query."""
    return (
        f"CASE %(expiry_mode)s WHEN 'never' THEN NULL::timestamptz "
        f"WHEN 'after_days' THEN {column} + make_interval(days => %(expiry_days)s) "
        f"ELSE make_timestamptz(extract(year FROM {column} AT TIME ZONE %(tz)s)::int + %(expiry_years)s + 1, "
        f"1, 1, 0, 0, 0, %(tz)s) END"
    )


def policy_params(policy: PointsPolicy) -> dict:
    return {
        "expiry_mode": policy.expiry_mode,
        "expiry_days": int(policy.expiry_days),
        "expiry_years": int(policy.expiry_years),
        "tz": settings.TIME_ZONE,
    }


def _decimal(value, *, minimum: Decimal, field: str, errors: dict, key=None) -> Decimal | None:
    try:
        number = Decimal(str(value))
        if not number.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError, TypeError):
        errors.setdefault(field, []).append(
            _("%(key)s: expected a number.") % {"key": key} if key is not None else _("Expected a number.")
        )
        return None
    if number < minimum or number > 1000:
        message = _("Between %(min)s and 1000.") % {"min": minimum}
        errors.setdefault(field, []).append(f"{key}: {message}" if key is not None else message)
        return None
    return number


def _number_map(raw, *, field: str, errors: dict, minimum: Decimal, key_check) -> dict:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        errors[field] = [_("Expected an object of name: multiplier.")]
        return {}
    cleaned = {}
    for key, value in raw.items():
        problem = key_check(key)
        if problem:
            errors.setdefault(field, []).append(f"{key}: {problem}")
            continue
        number = _decimal(value, minimum=minimum, field=field, errors=errors, key=key)
        if number is not None:
            cleaned[str(key).strip()] = float(number)
    return cleaned


def _rank_problem(key):
    try:
        return None if int(str(key)) >= 1 else _("ranks start at 1")
    except ValueError:
        return _("a tier rank is a whole number (1 = the first level)")


def _currency_problem(key):
    if key == reporting_currency():
        return _("the reporting currency always counts 1:1")
    if key not in settings.SIYU_CURRENCIES:
        return _("not a currency the brand uses (%(list)s)") % {"list": ", ".join(settings.SIYU_CURRENCIES)}
    return None


def _category_problem(key):
    return None if str(key).strip() else _("a category needs a name")


POLICY_FIELDS = (
    "enabled",
    "points_per_unit",
    "currency_rates",
    "tier_multipliers",
    "category_multipliers",
    "birthday_multiplier",
    "expiry_mode",
    "expiry_days",
    "expiry_years",
    "point_value",
)


@transaction.atomic
def update_policy(*, actor, values: dict) -> PointsPolicy:
    """Change the earning and expiry rules (operators and brand-wide keys). All fields are checked first; on any error
    nothing changes. Points already earned keep their amounts and expiry dates."""
    require_write(actor, "rewards")  # the programme's configuration goes with its catalogue
    unknown = sorted(set(values) - set(POLICY_FIELDS))
    if unknown:
        raise InvalidInput(details={name: [_("Unknown field.")] for name in unknown})
    policy = PointsPolicy.objects.select_for_update().filter(pk=1).first() or PointsPolicy(pk=1)
    errors: dict = {}
    cleaned: dict = {}
    for name, value in values.items():
        if name == "enabled":
            if not isinstance(value, bool):
                errors[name] = [_("Expected true or false.")]
            cleaned[name] = value
        elif name in ("points_per_unit", "point_value"):
            cleaned[name] = _decimal(value, minimum=Decimal(0), field=name, errors=errors)
        elif name == "birthday_multiplier":
            cleaned[name] = _decimal(value, minimum=Decimal(1), field=name, errors=errors)
        elif name == "expiry_mode":
            if value not in ExpiryMode.values:
                errors[name] = [_("One of: %(list)s.") % {"list": ", ".join(ExpiryMode.values)}]
            cleaned[name] = value
        elif name in ("expiry_days", "expiry_years"):
            low, high = (1, 36500) if name == "expiry_days" else (0, 100)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                errors[name] = [_("A whole number from %(low)s to %(high)s.") % {"low": low, "high": high}]
            cleaned[name] = value
        elif name == "currency_rates":
            cleaned[name] = _number_map(
                value, field=name, errors=errors, minimum=Decimal("0.0001"), key_check=_currency_problem
            )
        elif name == "tier_multipliers":
            cleaned[name] = {
                str(int(k)): v
                for k, v in _number_map(
                    value, field=name, errors=errors, minimum=Decimal(0), key_check=_rank_problem
                ).items()
            }
        elif name == "category_multipliers":
            cleaned[name] = {
                k.lower(): v
                for k, v in _number_map(
                    value, field=name, errors=errors, minimum=Decimal(0), key_check=_category_problem
                ).items()
            }
    if errors:
        raise InvalidInput(details=errors)
    for name, value in cleaned.items():
        setattr(policy, name, value)
    policy.updated_by = actor_user(actor)
    policy.save()
    return policy
