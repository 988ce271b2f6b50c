"""Checking what callers send: an order item and its lines, amounts, moments, phones and currencies,
turned into clean values or errors naming the field."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from loyalty.orders.models import AttributionRule, OrderChannel
from members.phones import InvalidPhone, normalize_phone
from members.services import identities
from members.services.identities import IdentityKey
from scrm.files import preview

MAX_BATCH = 1000
MAX_LINES = 200
MAX_AMOUNT = Decimal("9999999999.99")  # Decimal(12, 2)
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)  # tills with a fast clock
ITEM_FIELDS = frozenset(
    {
        "channel",
        "external_id",
        "placed_at",
        "currency",
        "total_amount",
        "store",
        "member_id",
        "buyer",
        "phone",
        "guide",
        "referral_code",
        "lines",
    }
)
LINE_FIELDS = frozenset({"sku", "name", "category", "quantity", "amount"})


CHANNELS = frozenset(OrderChannel.values)
_MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9]\d{9})")
_SEPARATORS = re.compile(r"[\s\-()]")
_PREFIX_VALID: dict[str, bool | None] = {}


def _prefix_validity(prefix: str) -> bool | None:
    """Whether every mainland mobile number starting with these 4 digits is valid (True), none is
    (False), or it depends on later digits (None), as phonenumbers sees it; worked out once."""
    if prefix not in _PREFIX_VALID:
        results = set()
        for tail in ("0000000", "5555555", "9999999", "1234567"):
            try:
                normalize_phone(prefix + tail)
                results.add(True)
            except InvalidPhone:
                results.add(False)
        _PREFIX_VALID[prefix] = results.pop() if len(results) == 1 else None
    return _PREFIX_VALID[prefix]


def clean_phone(raw: str) -> str:
    """normalize_phone, without parsing again what is plainly a mainland mobile number (most buyers):
    a batch of a thousand orders would otherwise spend most of its Python time in phonenumbers."""
    match = _MOBILE.fullmatch(_SEPARATORS.sub("", raw))
    if match and _prefix_validity(match.group(1)[:4]) is True:
        return "+86" + match.group(1)
    return normalize_phone(raw)


def currencies() -> list[str]:
    return list(settings.SIYU_CURRENCIES) or ["CNY"]


# --- checking what callers send ------------------------------------------------------------------


# What most callers send: digits, at most two decimals, within MAX_AMOUNT (ten digits before the point).
_PLAIN_AMOUNT = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,2})?")
_MAX_WHOLE = int(MAX_AMOUNT)


def parse_amount(raw, *, allow_zero: bool = True) -> tuple[Decimal | None, str | None]:
    """'199.00', 199, 199.5 -> Decimal with two places, or (None, message)."""
    # A batch parses thousands of amounts: the plainly valid ones skip the checks that cannot fail
    # for them (the same value as _parse_amount gives; zero takes the long way, for allow_zero).
    kind = type(raw)
    if (kind is str and _PLAIN_AMOUNT.fullmatch(raw)) or (kind is int and 0 < raw <= _MAX_WHOLE):
        value = Decimal(raw)
        if value:
            return value.quantize(CENT), None
    return _parse_amount(raw, allow_zero=allow_zero)


def _parse_amount(raw, *, allow_zero: bool) -> tuple[Decimal | None, str | None]:
    if isinstance(raw, bool) or raw is None or raw == "":
        return None, _("An amount is required.")
    if isinstance(raw, float):
        if not math.isfinite(raw):
            return None, _("%(value)s is not an amount.") % {"value": raw}
        raw = repr(raw)
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        return None, _("%(value)s is not an amount.") % {"value": preview(raw)}
    shown = preview(raw)  # a message echoes at most a preview of what was sent
    if not value.is_finite():
        return None, _("%(value)s is not an amount.") % {"value": shown}
    if value < 0:
        return None, _("An amount cannot be negative (%(value)s).") % {"value": shown}
    if value == 0 and not allow_zero:
        return None, _("The amount must be more than zero.")
    # Compared before rounding: a value of more digits than the decimal context holds (28) cannot be
    # rounded to cents at all (InvalidOperation), and no such value is an amount.
    if value.adjusted() > MAX_AMOUNT.adjusted() or value > MAX_AMOUNT:
        return None, _("The amount is too large: %(value)s is more than any order can be (at most %(max)s).") % {
            "value": shown, "max": MAX_AMOUNT}
    if value != value.quantize(CENT, rounding=ROUND_HALF_UP):
        return None, _("At most two decimal places (%(value)s).") % {"value": shown}
    return (value.quantize(CENT) if value else ZERO), None  # "-0" is 0.00, as PostgreSQL stores it


# The widest UTC offset PostgreSQL stores; Python parses up to ±23:59.
MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)


def parse_moment(raw, *, now: datetime) -> tuple[datetime | None, str | None]:
    """An ISO 8601 date-time ('2026-11-20T14:03:00+08:00', '2026-11-20 14:03'); without an offset it is
    the brand's time zone. A date alone is midnight."""
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, str) and raw.strip():
        text = raw.strip()
        try:
            value = parse_datetime(text)
            if value is None:
                day = parse_date(text)
                value = datetime(day.year, day.month, day.day) if day else None
        except ValueError:
            value = None
        if value is None:
            return None, _("%(value)s is not a date and time (use e.g. 2026-11-20T14:03:00+08:00).") % {"value": raw}
    else:
        return None, _("A date and time is required.")
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    elif abs(value.utcoffset()) > MAX_UTC_OFFSET:
        return None, _("%(value)s has a UTC offset no place uses (at most ±15:59).") % {"value": raw}
    if value < EARLIEST or value > now + FUTURE_SLACK:
        return None, _("%(value)s is not a plausible order time.") % {"value": raw}
    return value, None


def clean_text(raw, name: str, errors: dict, *, max_length: int, required: bool = False) -> str:
    if type(raw) is str:  # the common cases, without the checks that cannot fail for them
        value = raw.strip()
        if len(value) <= max_length and (value or not required):
            return value
    elif raw is None and not required:
        return ""
    return _clean_text(raw, name, errors, max_length=max_length, required=required)


def _clean_text(raw, name: str, errors: dict, *, max_length: int, required: bool) -> str:
    if raw is None:
        raw = ""
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str):
        errors[name] = [_("Expected text.")]
        return ""
    value = raw.strip()
    if required and not value:
        errors[name] = [_("This field is required.")]
    elif len(value) > max_length:
        errors[name] = [_("At most %(max)d characters.") % {"max": max_length}]
    return value


@dataclass
class Item:
    index: int
    channel: str
    external_id: str
    placed_at: datetime
    currency: str
    total: Decimal
    store_code: str
    member_id: int | None
    buyer: IdentityKey | None
    phone: str
    guide: str
    referral_code: str
    lines: list[tuple[str, str, str, int, Decimal]] = field(default_factory=list)
    # resolved
    resolved_member: int | None = None
    store_id: int | None = None
    staff_id: int | None = None
    attribution: str = AttributionRule.NONE


def _clean_lines(raw, errors: dict) -> list[tuple[str, str, str, int, Decimal]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors["lines"] = [_("Expected a list of lines.")]
        return []
    if len(raw) > MAX_LINES:
        errors["lines"] = [_("At most %(max)d lines per order.") % {"max": MAX_LINES}]
        return []
    lines, line_errors = [], {}
    for number, line in enumerate(raw):
        here: dict = {}
        if not isinstance(line, dict):
            line_errors[str(number)] = {"non_field_errors": [_("Expected an object with name and amount.")]}
            continue
        if not LINE_FIELDS.issuperset(line):
            for name in sorted(set(line) - LINE_FIELDS):
                here[name] = [_("Unknown field.")]
        sku = clean_text(line.get("sku"), "sku", here, max_length=64)
        name = clean_text(line.get("name"), "name", here, max_length=200, required=True)
        category = clean_text(line.get("category"), "category", here, max_length=64)
        quantity = line.get("quantity", 1)
        if isinstance(quantity, str) and quantity.strip().isdigit():
            quantity = int(quantity.strip())
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 100000:
            here["quantity"] = [_("A whole number from 1 to 100000.")]
        amount, problem = parse_amount(line.get("amount"))
        if problem:
            here["amount"] = [problem]
        if here:
            line_errors[str(number)] = here
        else:
            lines.append((sku, name, category, quantity, amount))
    if line_errors:
        errors["lines"] = line_errors
    return lines


def clean_item(
    index: int, raw, now: datetime, default_currency: str, allowed: list[str] | None = None
) -> tuple[Item | None, dict]:
    """One order of a batch: (item, {}) or (None, errors by field). `allowed` is currencies(), looked
    up once per batch by the caller."""
    if not isinstance(raw, dict):
        return None, {"non_field_errors": [_("Expected an order object.")]}
    if allowed is None:
        allowed = currencies()
    errors: dict = {}
    if not ITEM_FIELDS.issuperset(raw):
        for name in sorted(set(raw) - ITEM_FIELDS):
            errors[name] = [_("Unknown field.")]
    channel = raw.get("channel")
    if not isinstance(channel, str) or channel not in CHANNELS:
        errors["channel"] = [
            _("Unknown channel %(value)s; one of: %(choices)s.")
            % {"value": channel if isinstance(channel, str | int | float | None) else type(channel).__name__,
               "choices": ", ".join(OrderChannel.values)}
        ]
    external_id = clean_text(raw.get("external_id"), "external_id", errors, max_length=128, required=True)
    placed_at, problem = parse_moment(raw.get("placed_at"), now=now)
    if problem:
        errors["placed_at"] = [problem]
    currency = raw.get("currency") or default_currency
    if not isinstance(currency, str) or currency.strip().upper() not in allowed:
        errors["currency"] = [
            _("The brand does not sell in %(value)s; it uses %(choices)s.")
            % {"value": currency, "choices": ", ".join(allowed)}
        ]
    else:
        currency = currency.strip().upper()
    total, problem = parse_amount(raw.get("total_amount"))
    if problem:
        errors["total_amount"] = [problem]
    store_code = clean_text(raw.get("store"), "store", errors, max_length=32)
    member_id = raw.get("member_id")
    if member_id is not None and (not isinstance(member_id, int) or isinstance(member_id, bool) or member_id < 1):
        errors["member_id"] = [_("Expected a member id.")]
    buyer = None
    if raw.get("buyer") not in (None, {}):
        buyer, problem = identities.clean_identity(raw.get("buyer"))
        if problem:
            errors["buyer"] = problem
    phone = clean_text(raw.get("phone"), "phone", errors, max_length=32)
    if phone and "phone" not in errors:
        try:
            phone = clean_phone(phone)
        except InvalidPhone as exc:
            errors["phone"] = [str(exc)]
    guide = clean_text(raw.get("guide"), "guide", errors, max_length=150)
    referral_code = clean_text(raw.get("referral_code"), "referral_code", errors, max_length=32)
    lines = _clean_lines(raw.get("lines"), errors)
    if lines and total is not None and "lines" not in errors:
        line_sum = sum((line[4] for line in lines), Decimal("0"))
        if line_sum != total:
            errors["lines"] = [
                _("The lines add up to %(lines)s but the order's total_amount is %(total)s.")
                % {"lines": line_sum, "total": total}
            ]
    if errors:
        return None, errors
    return Item(
        index=index,
        channel=channel,
        external_id=external_id,
        placed_at=placed_at,
        currency=currency,
        total=total,
        store_code=store_code,
        member_id=member_id,
        buyer=buyer,
        phone=phone,
        guide=guide,
        referral_code=referral_code,
        lines=lines,
    ), {}
