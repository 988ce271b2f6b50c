"""Writing orders: ingestion (one or a thousand at a time), refunds, linking buyers who become
members, moving orders on merges, and the attribution policy.

Ingestion is idempotent by (channel, external order id): the unique index is the arbiter. A batch
is checked in Python, resolved against members, stores and staff in a fixed handful of queries,
then written with one INSERT ... ON CONFLICT DO NOTHING RETURNING for the orders and one INSERT for
the lines of the orders it created; an order number already recorded (earlier, by a concurrent
sync, or twice in the same batch) is answered with the order that holds it, never counted twice.

The buyer is found by `member_id`, by a buyer identity (channel/namespace/external_id, through the
members' identities) or by phone. None found keeps the order with its buyer identity and no member
(a pending buyer); it is linked when that identity appears (`link_orders_for_identities`, queued by
the members' identity hook) or by the periodic sweep (`link_pending_orders`), never dropped.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from loyalty.orders import hooks
from loyalty.orders.models import (
    AttributionPolicy,
    AttributionRule,
    Order,
    OrderChannel,
    OrderLine,
    OrderStatus,
    Refund,
)
from members.models import Channel as IdentityChannel
from members.phones import InvalidPhone, normalize_phone
from members.services import identities
from members.services.identities import IdentityKey
from scrm.actors import actor_user
from scrm.errors import Conflict, Forbidden, InvalidInput, NotInScope
from scrm.models import STORE_ROLES
from scrm.scoping import access_for

MAX_BATCH = 1000
MAX_LINES = 200
MAX_AMOUNT = Decimal("9999999999.99")  # Decimal(12, 2)
CENT = Decimal("0.01")
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


def parse_amount(raw, *, allow_zero: bool = True) -> tuple[Decimal | None, str | None]:
    """'199.00', 199, 199.5 -> Decimal with two places, or (None, message)."""
    if isinstance(raw, bool) or raw is None or raw == "":
        return None, _("An amount is required.")
    if isinstance(raw, float):
        if not math.isfinite(raw):
            return None, _("%(value)s is not an amount.") % {"value": raw}
        raw = repr(raw)
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        return None, _("%(value)s is not an amount.") % {"value": raw}
    if not value.is_finite():
        return None, _("%(value)s is not an amount.") % {"value": raw}
    if value < 0:
        return None, _("An amount cannot be negative (%(value)s).") % {"value": raw}
    if value == 0 and not allow_zero:
        return None, _("The amount must be more than zero.")
    if value != value.quantize(CENT, rounding=ROUND_HALF_UP):
        return None, _("At most two decimal places (%(value)s).") % {"value": raw}
    if value > MAX_AMOUNT:
        return None, _("%(value)s is larger than any order can be.") % {"value": raw}
    return value.quantize(CENT), None


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
    if value < EARLIEST or value > now + FUTURE_SLACK:
        return None, _("%(value)s is not a plausible order time.") % {"value": raw}
    return value, None


def _text(raw, name: str, errors: dict, *, max_length: int, required: bool = False) -> str:
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
class _Item:
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
        for name in sorted(set(line) - LINE_FIELDS):
            here[name] = [_("Unknown field.")]
        sku = _text(line.get("sku"), "sku", here, max_length=64)
        name = _text(line.get("name"), "name", here, max_length=200, required=True)
        category = _text(line.get("category"), "category", here, max_length=64)
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


def _clean(index: int, raw, now: datetime, default_currency: str) -> tuple[_Item | None, dict]:
    if not isinstance(raw, dict):
        return None, {"non_field_errors": [_("Expected an order object.")]}
    errors: dict = {}
    for name in sorted(set(raw) - ITEM_FIELDS):
        errors[name] = [_("Unknown field.")]
    channel = raw.get("channel")
    if channel not in CHANNELS:
        errors["channel"] = [
            _("Unknown channel %(value)s; one of: %(choices)s.")
            % {"value": channel, "choices": ", ".join(OrderChannel.values)}
        ]
    external_id = _text(raw.get("external_id"), "external_id", errors, max_length=128, required=True)
    placed_at, problem = parse_moment(raw.get("placed_at"), now=now)
    if problem:
        errors["placed_at"] = [problem]
    currency = raw.get("currency") or default_currency
    if not isinstance(currency, str) or currency.strip().upper() not in currencies():
        errors["currency"] = [
            _("The brand does not sell in %(value)s; it uses %(choices)s.")
            % {"value": currency, "choices": ", ".join(currencies())}
        ]
    else:
        currency = currency.strip().upper()
    total, problem = parse_amount(raw.get("total_amount"))
    if problem:
        errors["total_amount"] = [problem]
    store_code = _text(raw.get("store"), "store", errors, max_length=32)
    member_id = raw.get("member_id")
    if member_id is not None and (not isinstance(member_id, int) or isinstance(member_id, bool) or member_id < 1):
        errors["member_id"] = [_("Expected a member id.")]
    buyer = None
    if raw.get("buyer") not in (None, {}):
        buyer, problem = identities.clean_identity(raw.get("buyer"))
        if problem:
            errors["buyer"] = problem
    phone = _text(raw.get("phone"), "phone", errors, max_length=32)
    if phone and "phone" not in errors:
        try:
            phone = clean_phone(phone)
        except InvalidPhone as exc:
            errors["phone"] = [str(exc)]
    guide = _text(raw.get("guide"), "guide", errors, max_length=150)
    referral_code = _text(raw.get("referral_code"), "referral_code", errors, max_length=32)
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
    return _Item(
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


# --- resolving members, stores and guides (a fixed number of queries per batch) ------------------


def _array(values) -> str:
    """A PostgreSQL array literal ('{"a","b",NULL}') for a `%s::type[]` parameter. psycopg2 renders a
    Python list as ARRAY['a', 'b', ...], which PostgreSQL parses element by element: for the
    thousands of values of a batch, the literal is several times cheaper."""
    out = []
    for value in values:
        if value is None:
            out.append("NULL")
            continue
        kind = type(value)
        if kind is int or kind is Decimal:
            out.append(str(value))
            continue
        text = value.isoformat() if kind is datetime else str(value)
        if '"' in text or "\\" in text:
            text = text.replace("\\", "\\\\").replace('"', '\\"')
        out.append(f'"{text}"')
    return "{" + ",".join(out) + "}"


def _fetch(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _owners(keys) -> dict[IdentityKey, int]:
    """Which member holds each identity key (members.services.identities.owners, with array literals)."""
    keys = list(keys)
    return {
        IdentityKey(c, n, e): member_id
        for c, n, e, member_id in _fetch(
            """SELECT i.channel, i.namespace, i.external_id, i.member_id
            FROM unnest(%s::text[], %s::text[], %s::text[]) AS k(channel, namespace, external_id)
            JOIN members_identity i
              ON i.channel = k.channel AND i.namespace = k.namespace AND i.external_id = k.external_id""",
            [_array(k.channel for k in keys), _array(k.namespace for k in keys), _array(k.external_id for k in keys)],
        )
    }


def _resolve_members(items: list[_Item], access, errors: dict) -> dict[int, tuple[int | None, int | None]]:
    """Set item.resolved_member; returns {member_id: (home_store_id, active owner id)}."""
    given = sorted({i.member_id for i in items if i.member_id})
    survivors: dict[int, tuple[int, int | None, bool]] = {}
    if given:
        # A merged duplicate's orders belong to its survivor (merges collapse chains to one hop).
        for asked, member_id, store_id, erased in _fetch(
            """SELECT m.id, coalesce(t.id, m.id), coalesce(t.home_store_id, m.home_store_id),
                   coalesce(t.erased_at, m.erased_at) IS NOT NULL
            FROM members_member m LEFT JOIN members_member t ON t.id = m.merged_into_id
            WHERE m.id = ANY(%s::bigint[])""",
            [_array(given)],
        ):
            survivors[asked] = (member_id, store_id, erased)
    keys = {i.buyer for i in items if i.buyer} | {
        IdentityKey(IdentityChannel.PHONE, "", i.phone) for i in items if i.phone
    }
    held = _owners(keys) if keys else {}
    loose_phones = sorted(
        {i.phone for i in items if i.phone} - {k.external_id for k in held if k.channel == IdentityChannel.PHONE}
    )
    by_phone: dict[str, int] = {}
    if loose_phones:
        # Profiles with a phone but no phone identity (older imports): only an unambiguous match counts.
        for phone, member_id in _fetch(
            """SELECT phone, min(id) FROM members_member
            WHERE phone = ANY(%s::text[]) AND merged_into_id IS NULL AND erased_at IS NULL
            GROUP BY phone HAVING count(*) = 1""",
            [_array(loose_phones)],
        ):
            by_phone[phone] = member_id
    for item in items:
        if item.member_id:
            found = survivors.get(item.member_id)
            if found is None or found[2] or not access.allows_store(found[1]):
                errors.setdefault(item.index, {})["member_id"] = [_("Unknown member %(id)s.") % {"id": item.member_id}]
                continue
            item.resolved_member = found[0]
        elif item.buyer and item.buyer in held:
            item.resolved_member = held[item.buyer]
        elif item.phone:
            key = IdentityKey(IdentityChannel.PHONE, "", item.phone)
            item.resolved_member = held.get(key) or by_phone.get(item.phone)
    wanted = sorted({i.resolved_member for i in items if i.resolved_member})
    if not wanted:
        return {}
    return {
        member_id: (store_id, owner_id)
        for member_id, store_id, owner_id in _fetch(
            """SELECT m.id, m.home_store_id, u.id
            FROM members_member m LEFT JOIN scrm_user u ON u.id = m.owner_id AND u.is_active
            WHERE m.id = ANY(%s::bigint[])""",
            [_array(wanted)],
        )
    }


def _resolve_stores(items: list[_Item], access, info: dict, errors: dict) -> None:
    codes = sorted({i.store_code for i in items if i.store_code})
    store_of = (
        dict(_fetch("SELECT code, id FROM scrm_store WHERE code = ANY(%s::text[])", [_array(codes)])) if codes else {}
    )
    for item in items:
        if item.index in errors:
            continue
        if item.store_code:
            store_id = store_of.get(item.store_code)
            if store_id is None or not access.allows_store(store_id):
                errors.setdefault(item.index, {})["store"] = [
                    _("Unknown store code %(code)s.") % {"code": item.store_code}
                ]
                continue
        elif not access.all_stores:
            store_id = access.store_id  # a store's till or key records the store's own sales
        else:
            store_id = info.get(item.resolved_member, (None, None))[0]  # online: the member's home store
        item.store_id = store_id


def _attribute(items: list[_Item], info: dict, policy: AttributionPolicy) -> None:
    """Who each order is credited to (see AttributionPolicy)."""
    names = sorted({i.guide for i in items if i.guide})
    guides = (
        {
            username: (user_id, store_id)
            for username, user_id, store_id in _fetch(
                "SELECT username, id, store_id FROM scrm_user "
                "WHERE username = ANY(%s::text[]) AND is_active AND role = ANY(%s::text[])",
                [_array(names), _array(STORE_ROLES)],
            )
        }
        if names
        else {}
    )
    served: dict[int, int] = {}
    if policy.rule == AttributionRule.LAST_SERVED:
        asks = [i for i in items if i.resolved_member and not (i.guide in guides and guides[i.guide][1] == i.store_id)]
        if asks:
            # Per order: the latest note written or relation added by active staff in the window
            # before the order was placed (both lookups walk a (member, time) index).
            served = dict(
                _fetch(
                    """SELECT k.n, s.staff_id
                FROM unnest(%s::int[], %s::bigint[], %s::timestamptz[]) AS k(n, member_id, placed_at)
                CROSS JOIN LATERAL (
                    SELECT staff_id FROM (
                        (SELECT n.author_id AS staff_id, n.created_at AS at FROM members_servicenote n
                         JOIN scrm_user u ON u.id = n.author_id AND u.is_active AND u.role <> 'operator'
                         WHERE n.member_id = k.member_id AND n.created_at <= k.placed_at
                           AND n.created_at >= k.placed_at - %s * interval '1 day'
                         ORDER BY n.created_at DESC LIMIT 1)
                        UNION ALL
                        (SELECT r.staff_id, r.added_at FROM members_staffrelation r
                         JOIN scrm_user u ON u.id = r.staff_id AND u.is_active AND u.role <> 'operator'
                         WHERE r.member_id = k.member_id AND r.added_at <= k.placed_at
                           AND r.added_at >= k.placed_at - %s * interval '1 day'
                         ORDER BY r.added_at DESC LIMIT 1)
                    ) latest ORDER BY at DESC LIMIT 1
                ) s""",
                    [
                        _array(i.index for i in asks),
                        _array(i.resolved_member for i in asks),
                        _array(i.placed_at for i in asks),
                        policy.window_days,
                        policy.window_days,
                    ],
                )
            )
    for item in items:
        guide = guides.get(item.guide) if item.guide else None
        owner = info.get(item.resolved_member, (None, None))[1] if item.resolved_member else None
        if guide is not None and item.store_id is not None and guide[1] == item.store_id:
            item.staff_id, item.attribution = guide[0], AttributionRule.GIVEN
        elif item.index in served:
            item.staff_id, item.attribution = served[item.index], AttributionRule.LAST_SERVED
        elif owner is not None:
            item.staff_id, item.attribution = owner, AttributionRule.OWNER
        else:
            item.staff_id, item.attribution = None, AttributionRule.NONE


# --- ingestion ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderResult:
    index: int
    order_id: int
    created: bool
    member_id: int | None


@dataclass
class BatchResult:
    results: list[OrderResult]
    errors: dict[int, dict]

    @property
    def created(self) -> int:
        return sum(r.created for r in self.results)


_ORDER_COLUMNS = (
    ("channel", "text"),
    ("external_id", "text"),
    ("member_id", "bigint"),
    ("buyer_channel", "text"),
    ("buyer_namespace", "text"),
    ("buyer_external_id", "text"),
    ("store_id", "bigint"),
    ("staff_id", "bigint"),
    ("attribution", "text"),
    ("referral_code", "text"),
    ("currency", "text"),
    ("total_amount", "numeric"),
    ("placed_at", "timestamptz"),
)


def _buyer_columns(item: _Item) -> tuple[str, str, str]:
    if item.buyer:
        return item.buyer.channel, item.buyer.namespace, item.buyer.external_id
    if item.phone:
        return IdentityChannel.PHONE, "", item.phone
    return "", "", ""


def _insert(items: list[_Item], now: datetime) -> dict[tuple[str, str], int]:
    """INSERT the orders (in key order, so concurrent batches cannot deadlock) and the lines of those
    created; returns {(channel, external_id): id} of the orders this call created."""
    if not items:
        return {}
    rows = sorted(items, key=lambda i: (i.channel, i.external_id))
    arrays = [
        [i.channel for i in rows],
        [i.external_id for i in rows],
        [i.resolved_member for i in rows],
        *map(list, zip(*(_buyer_columns(i) for i in rows), strict=True)),
        [i.store_id for i in rows],
        [i.staff_id for i in rows],
        [str(i.attribution) for i in rows],
        [i.referral_code for i in rows],
        [i.currency for i in rows],
        [i.total for i in rows],
        [i.placed_at for i in rows],
    ]
    names = ", ".join(c for c, _t in _ORDER_COLUMNS)
    unnest = ", ".join(f"%s::{t}[]" for _c, t in _ORDER_COLUMNS)
    created = {
        (channel, external_id): order_id
        for order_id, channel, external_id in _fetch(
            f"""INSERT INTO orders_order ({names}, refunded_amount, status, created_at, updated_at)
            SELECT {names}, 0, 'paid', %s, %s FROM unnest({unnest}) WITH ORDINALITY AS r({names}, n)
            ORDER BY n
            ON CONFLICT (channel, external_id) DO NOTHING
            RETURNING id, channel, external_id""",
            [now, now, *map(_array, arrays)],
        )
    }
    lines = [
        (created[(i.channel, i.external_id)], line)
        for i in rows
        if (i.channel, i.external_id) in created
        for line in i.lines
    ]
    if lines:
        with connection.cursor() as cursor:
            cursor.execute(
                """INSERT INTO orders_orderline (order_id, sku, name, category, quantity, amount, refunded_amount)
                SELECT order_id, sku, name, category, quantity, amount, 0
                FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::int[], %s::numeric[])
                     AS r(order_id, sku, name, category, quantity, amount)""",
                [_array(o for o, _l in lines), *map(_array, zip(*(line for _o, line in lines), strict=True))],
            )
    return created


def record_orders(*, items, actor, atomic: bool = False) -> BatchResult:
    """Record up to MAX_BATCH orders. Each invalid item gets its own errors (by index) and the valid
    ones are recorded; with `atomic`, any invalid item raises InvalidInput and nothing is written.
    A duplicate order number (earlier, concurrently, or twice in `items`) is answered with the order
    holding it (`created` False). An order number already recorded for a store the caller cannot
    see is an error for that item."""
    if not isinstance(items, list) or not items:
        raise InvalidInput(details={"items": [_("Expected a non-empty list of orders.")]})
    if len(items) > MAX_BATCH:
        raise InvalidInput(details={"items": [_("At most %(max)d orders per batch.") % {"max": MAX_BATCH}]})
    access = access_for(actor)
    if not access.all_stores and access.store_id is None:
        raise Forbidden()
    now = timezone.now()
    default_currency = currencies()[0]
    errors: dict[int, dict] = {}
    cleaned: list[_Item] = []
    first_of: dict[tuple[str, str], int] = {}
    repeats: dict[int, tuple[str, str]] = {}
    for index, raw in enumerate(items):
        item, problems = _clean(index, raw, now, default_currency)
        if problems:
            errors[index] = problems
            continue
        key = (item.channel, item.external_id)
        if key in first_of:
            repeats[index] = key  # answered with the order the first copy records or finds
            continue
        first_of[key] = index
        cleaned.append(item)
    with transaction.atomic():
        info = _resolve_members(cleaned, access, errors)
        _resolve_stores(cleaned, access, info, errors)
        valid = [i for i in cleaned if i.index not in errors]
        if atomic and errors:
            raise InvalidInput(details={"items": {str(i): errors[i] for i in sorted(errors)}})
        _attribute(valid, info, AttributionPolicy.current())
        created = _insert(valid, now)
        found: dict[tuple[str, str], tuple[int, int | None, int | None]] = {}
        existing = [i for i in valid if (i.channel, i.external_id) not in created]
        if existing:
            found = {
                (channel, external_id): (order_id, store_id, member_id)
                for order_id, channel, external_id, store_id, member_id in _fetch(
                    """SELECT o.id, o.channel, o.external_id, o.store_id, o.member_id
                    FROM unnest(%s::text[], %s::text[]) AS k(channel, external_id)
                    JOIN orders_order o ON o.channel = k.channel AND o.external_id = k.external_id""",
                    [_array(i.channel for i in existing), _array(i.external_id for i in existing)],
                )
            }
        outcome: dict[tuple[str, str], OrderResult | None] = {}
        for item in valid:
            key = (item.channel, item.external_id)
            if key in created:
                outcome[key] = OrderResult(item.index, created[key], True, item.resolved_member)
            elif key in found and access.allows_store(found[key][1]):
                outcome[key] = OrderResult(item.index, found[key][0], False, found[key][2])
            else:
                outcome[key] = None
                errors[item.index] = {
                    "external_id": [
                        _("Order %(number)s was already recorded for another store.") % {"number": item.external_id}
                    ]
                }
        for index, key in repeats.items():
            first = outcome.get(key)
            if first is None:
                errors[index] = errors.get(first_of[key]) or {
                    "external_id": [_("Same order as item %(n)d.") % {"n": first_of[key]}]
                }
            else:
                outcome[(index, key)] = OrderResult(index, first.order_id, False, first.member_id)
        if atomic and errors:
            raise InvalidInput(details={"items": {str(i): errors[i] for i in sorted(errors)}})
        if created:
            hooks.orders_changed(
                order_ids=created.values(),
                member_ids=[i.resolved_member for i in valid if (i.channel, i.external_id) in created],
            )
    results = sorted((r for r in outcome.values() if r is not None), key=lambda r: r.index)
    return BatchResult(results=results, errors=errors)


def record_order(*, data, actor) -> tuple[Order, bool]:
    """One order: (order, created). A duplicate order number answers with the order already recorded."""
    try:
        batch = record_orders(items=[data], actor=actor, atomic=True)
    except InvalidInput as exc:
        items = exc.details.get("items")
        if isinstance(items, dict) and "0" in items:
            raise InvalidInput(details=items["0"]) from None
        raise
    result = batch.results[0]
    return Order.objects.get(pk=result.order_id), result.created


# --- refunds ---------------------------------------------------------------------------------------


@transaction.atomic
def record_refund(
    *, order: Order, external_id, amount, line=None, reason="", refunded_at=None, actor=None
) -> tuple[Refund, bool]:
    """Give back `amount` of `order` (or of one of its lines): (refund, created). Idempotent by
    (order, refund number); more than what remains refundable is refused and nothing changes. The
    order row is locked so two refunds of the same order cannot both pass the check."""
    errors: dict = {}
    number = _text(external_id, "external_id", errors, max_length=128, required=True)
    value, problem = parse_amount(amount, allow_zero=False)
    if problem:
        errors["amount"] = [problem]
    reason = _text(reason, "reason", errors, max_length=200)
    at = timezone.now()
    if refunded_at not in (None, ""):
        at, problem = parse_moment(refunded_at, now=timezone.now())
        if problem:
            errors["refunded_at"] = [problem]
    if errors:
        raise InvalidInput(details=errors)
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if actor is not None and not access_for(actor).allows_store(locked.store_id):
        raise NotInScope()
    existing = Refund.objects.filter(order=locked, external_id=number).first()
    if existing is not None:
        if existing.amount != value:
            raise Conflict(
                _("Refund %(number)s was already recorded for %(amount)s.")
                % {"number": number, "amount": existing.amount},
                details={"external_id": [_("Already used for a refund of %(amount)s.") % {"amount": existing.amount}]},
                code="refund_number_taken",
            )
        return existing, False
    line_obj = None
    if line not in (None, ""):
        line_id = line.pk if isinstance(line, OrderLine) else line
        if isinstance(line_id, str) and line_id.isdigit():
            line_id = int(line_id)
        line_obj = (
            OrderLine.objects.select_for_update().filter(order=locked, pk=line_id).first()
            if isinstance(line_id, int) and not isinstance(line_id, bool)
            else None
        )
        if line_obj is None:
            raise InvalidInput(
                details={
                    "line": [_("Order %(number)s has no line %(line)s.") % {"number": locked.external_id, "line": line}]
                }
            )
    remaining = locked.total_amount - locked.refunded_amount
    if value > remaining:
        raise InvalidInput(
            details={
                "amount": [
                    _("%(amount)s is more than the %(remaining)s still refundable on this order.")
                    % {"amount": value, "remaining": remaining}
                ]
            }
        )
    if line_obj is not None and value > line_obj.amount - line_obj.refunded_amount:
        raise InvalidInput(
            details={
                "amount": [
                    _("%(amount)s is more than the %(remaining)s still refundable on line %(line)s.")
                    % {"amount": value, "remaining": line_obj.amount - line_obj.refunded_amount, "line": line_obj.name}
                ]
            }
        )
    refund = Refund.objects.create(
        order=locked, line=line_obj, external_id=number, amount=value, reason=reason, refunded_at=at
    )
    if line_obj is not None:
        line_obj.refunded_amount += value
        line_obj.save(update_fields=["refunded_amount"])
    locked.refunded_amount += value
    locked.status = (
        OrderStatus.REFUNDED if locked.refunded_amount == locked.total_amount else OrderStatus.PARTIALLY_REFUNDED
    )
    locked.save(update_fields=["refunded_amount", "status", "updated_at"])
    order.refunded_amount, order.status = locked.refunded_amount, locked.status
    hooks.orders_changed(order_ids=[locked.pk], member_ids=[locked.member_id])
    return refund, True


# --- linking buyers who become members, merges -------------------------------------------------------

# Link pending orders to the member now holding their buyer identity; credit the member's owner
# where nobody was credited, and count store-less (online) orders for the member's home store.
_LINK = """
WITH found AS (
    SELECT o.id, i.member_id FROM orders_order o
    JOIN members_identity i
      ON i.channel = o.buyer_channel AND i.namespace = o.buyer_namespace AND i.external_id = o.buyer_external_id
    JOIN members_member live ON live.id = i.member_id AND live.merged_into_id IS NULL AND live.erased_at IS NULL
    WHERE o.member_id IS NULL AND o.buyer_external_id <> '' {condition}
    ORDER BY o.id LIMIT %s
    FOR UPDATE OF o SKIP LOCKED
)
UPDATE orders_order o SET
    member_id = m.id,
    store_id = coalesce(o.store_id, m.home_store_id),
    staff_id = coalesce(o.staff_id, u.id),
    attribution = CASE WHEN o.staff_id IS NULL AND u.id IS NOT NULL THEN 'owner' ELSE o.attribution END,
    updated_at = now()
FROM found
JOIN members_member m ON m.id = found.member_id
LEFT JOIN scrm_user u ON u.id = m.owner_id AND u.is_active
WHERE o.id = found.id
RETURNING o.id, o.member_id
"""
LINK_CHUNK = 10000


def _link(condition: str, params: list, *, limit: int) -> int:
    rows = _fetch(_LINK.format(condition=condition), [*params, limit])
    if rows:
        hooks.orders_changed(order_ids=[r[0] for r in rows], member_ids=[r[1] for r in rows])
    return len(rows)


def link_orders_for_identities(*, identity_ids: list[int]) -> int:
    """Link the pending orders whose buyer holds one of these (new) identities; returns how many."""
    ids = sorted({int(i) for i in identity_ids})
    if not ids:
        return 0
    linked = 0
    while True:
        with transaction.atomic():
            count = _link("AND i.id = ANY(%s::bigint[])", [_array(ids)], limit=LINK_CHUNK)
        linked += count
        if count < LINK_CHUNK:
            return linked


def link_pending_orders(*, chunk: int = LINK_CHUNK) -> int:
    """Sweep every pending order against the identities (catches identities written in bulk, e.g. by
    a member import); each chunk commits on its own, locked rows are left to whoever holds them."""
    linked = 0
    while True:
        with transaction.atomic():
            count = _link("", [], limit=chunk)
        linked += count
        if count < chunk:
            return linked


def move_orders_on_merge(survivor_id: int, duplicate_id: int) -> int:
    """Merge handler (members.services.merge.register_handler): the duplicate's orders move to the
    survivor, and the figures of both are recomputed."""
    moved = [
        row[0]
        for row in _fetch(
            "UPDATE orders_order SET member_id = %s, updated_at = now() WHERE member_id = %s RETURNING id",
            [survivor_id, duplicate_id],
        )
    ]
    if moved:
        hooks.orders_changed(order_ids=moved, member_ids=[survivor_id, duplicate_id])
    return len(moved)


# --- attribution policy -----------------------------------------------------------------------------


@transaction.atomic
def set_attribution_policy(*, rule, window_days, actor) -> AttributionPolicy:
    if not access_for(actor).all_stores:
        raise Forbidden(_("Only operators set how orders are credited."))
    errors = {}
    if rule not in [r.value for r in AttributionPolicy.RULES]:
        errors["rule"] = [_("One of: %(choices)s.") % {"choices": ", ".join(r.value for r in AttributionPolicy.RULES)}]
    if isinstance(window_days, str) and window_days.strip().isdigit():
        window_days = int(window_days)
    if not isinstance(window_days, int) or isinstance(window_days, bool) or not 1 <= window_days <= 365:
        errors["window_days"] = [_("A whole number of days from 1 to 365.")]
    if errors:
        raise InvalidInput(details=errors)
    policy, _created = AttributionPolicy.objects.update_or_create(
        pk=1, defaults={"rule": rule, "window_days": window_days, "updated_by": actor_user(actor)}
    )
    return policy
