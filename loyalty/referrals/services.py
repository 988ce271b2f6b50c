"""Writes of referrals: codes, who referred whom, commission rules, and commissions kept in step with
their orders (set-based SQL, so a batch of thousands of orders costs a few statements)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.orders import sql as orders_sql
from loyalty.orders.models import OrderChannel
from loyalty.referrals import sql as referrals_sql
from loyalty.referrals.models import (
    CODE_ALPHABET,
    CODE_LENGTH,
    Commission,
    CommissionRule,
    CommissionStatus,
    Referral,
    ReferralCode,
    ReferralSource,
)
from members import sql as members_sql
from members.models import Member
from scrm.errors import Conflict, InvalidInput, NotInScope
from scrm.models import User
from scrm.permissions import can_write, require_write
from scrm.scoping import scope

# --- codes ------------------------------------------------------------------------------------------

# The correlated `0 * m.id` makes PostgreSQL draw a fresh code per member.
_GENERATE_CODES = f"""
INSERT INTO {referrals_sql.REFERRAL_CODE} (member_id, code, created_at)
SELECT m.id,
       (SELECT string_agg(substr(%(alphabet)s, 1 + floor(random() * {len(CODE_ALPHABET)})::int, 1), '')
          FROM generate_series(1, %(length)s + 0 * m.id)),
       now()
  FROM {members_sql.MEMBER} m
 WHERE {members_sql.live("m")}
   AND NOT EXISTS (SELECT 1 FROM {referrals_sql.REFERRAL_CODE} rc WHERE rc.member_id = m.id)
   {{only}}
ON CONFLICT DO NOTHING
"""


def generate_codes(*, member_ids: Iterable[int] | None = None) -> int:
    """Give every live member lacking a code one (or only `member_ids`); returns how many were made.
    A drawn code that collides is skipped by ON CONFLICT and drawn again in the next round."""
    params: dict = {"alphabet": CODE_ALPHABET, "length": CODE_LENGTH}
    only = ""
    if member_ids is not None:
        params["ids"] = sorted({int(i) for i in member_ids})
        only = "AND m.id = ANY(%(ids)s)"
    sql = _GENERATE_CODES.format(only=only)
    made = 0
    for _round in range(20):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted = cursor.rowcount
        made += inserted
        if inserted == 0:
            break
    return made


def ensure_code(*, member: Member) -> tuple[ReferralCode, bool]:
    """The member's code, made now if they have none; (code, created)."""
    existing = ReferralCode.objects.filter(member=member).first()
    if existing is not None:
        return existing, False
    if member.merged_into_id or member.erased_at:
        raise InvalidInput(details={"member": [_("This member was merged or erased.")]})
    generate_codes(member_ids=[member.pk])
    return ReferralCode.objects.get(member=member), True


def find_code(code: str) -> ReferralCode | None:
    code = (code or "").strip().upper()
    if not code or len(code) > 16:
        return None
    return ReferralCode.objects.select_related("member").filter(code=code).first()


# --- who referred whom -------------------------------------------------------------------------------


def record_referral(*, member: Member, code: str, actor=None) -> Referral:
    """Record explicitly that `member` was referred by the owner of `code` (a sign-up form, a
    staff entry). A member is referred once; a member cannot refer themselves or their referrer."""
    found = find_code(code)
    if found is None:
        raise InvalidInput(details={"code": [_("Unknown referral code %(code)s.") % {"code": code}]})
    referrer = found.member
    if referrer.pk == member.pk or (member.phone and member.phone == referrer.phone):
        raise InvalidInput(details={"code": [_("A member cannot refer themselves.")]})
    if Referral.objects.filter(member=referrer, referrer=member).exists():
        raise InvalidInput(details={"code": [_("This member referred the code's owner; referrals cannot loop.")]})
    try:
        with transaction.atomic():
            return Referral.objects.create(member=member, referrer=referrer, code=found.code, source=ReferralSource.API)
    except IntegrityError:
        raise Conflict(
            _("This member's referrer is already recorded."), details={"member": [_("Already referred.")]}
        ) from None


# --- commission rules ---------------------------------------------------------------------------------

RULE_FIELDS = ("name", "channel", "category", "rate", "fixed_amount", "return_window_days", "priority", "is_active")


def _decimal(value, field: str, errors: dict, *, maximum: Decimal) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        errors[field] = [_("Expected a number.")]
        return None
    if not number.is_finite() or number < 0:
        errors[field] = [_("Must be zero or more.")]
    elif number > maximum:
        errors[field] = [_("Must be at most %(max)s.") % {"max": maximum}]
    elif number != number.quantize(Decimal("0.01")):
        errors[field] = [_("At most two decimal places.")]
    return number


def _clean_rule(data: dict, *, current: CommissionRule | None) -> dict:
    unknown = sorted(set(data) - set(RULE_FIELDS))
    errors: dict = {field: [_("Unknown field.")] for field in unknown}
    values = (
        {f: getattr(current, f) for f in RULE_FIELDS}
        if current
        else {
            "name": "",
            "channel": "",
            "category": "",
            "rate": Decimal(0),
            "fixed_amount": Decimal(0),
            "return_window_days": 7,
            "priority": 0,
            "is_active": True,
        }
    )
    values.update({k: v for k, v in data.items() if k in RULE_FIELDS})
    values["name"] = str(values["name"] or "").strip()
    if not values["name"]:
        errors["name"] = [_("Give the rule a name.")]
    elif len(values["name"]) > 100:
        errors["name"] = [_("At most 100 characters.")]
    values["channel"] = str(values["channel"] or "")
    if values["channel"] and values["channel"] not in OrderChannel.values:
        errors["channel"] = [
            _("Unknown channel; use one of: %(values)s, or empty for any.") % {"values": ", ".join(OrderChannel.values)}
        ]
    values["category"] = str(values["category"] or "").strip()
    if len(values["category"]) > 64:
        errors["category"] = [_("At most 64 characters.")]
    values["rate"] = _decimal(values["rate"], "rate", errors, maximum=Decimal(100))
    values["fixed_amount"] = _decimal(values["fixed_amount"], "fixed_amount", errors, maximum=Decimal("9999999999"))
    for field, low, high in (("return_window_days", 0, 365), ("priority", -1000, 1000)):
        value = values[field]
        if not isinstance(value, int) or isinstance(value, bool):
            try:
                value = int(str(value))
            except ValueError:
                errors[field] = [_("Expected a whole number.")]
                continue
        if not low <= value <= high:
            errors[field] = [_("Must be between %(low)s and %(high)s.") % {"low": low, "high": high}]
        values[field] = value
    if not isinstance(values["is_active"], bool):
        errors["is_active"] = [_("Expected true or false.")]
    if not errors and values["rate"] == 0 and values["fixed_amount"] == 0:
        errors["rate"] = [_("Set a rate, a fixed amount, or both.")]
    if not errors and values["is_active"]:
        twin = CommissionRule.objects.filter(
            is_active=True, channel=values["channel"], category=values["category"], priority=values["priority"]
        )
        if current is not None:
            twin = twin.exclude(pk=current.pk)
        twin = twin.first()
        if twin is not None:
            errors["priority"] = [
                _(
                    'Active rule "%(name)s" has the same channel, category and priority; give one a different '
                    "priority so it is clear which applies."
                )
                % {"name": twin.name}
            ]
    if errors:
        raise InvalidInput(details=errors)
    return values


def can_change_rules(actor) -> bool:
    """Commission rules are the brand's: operators and brand-wide keys holding commission_rules:write."""
    return can_write(actor, "commission_rules")


def can_mark_paid(actor) -> bool:
    """Paying commissions out is the brand's call: operators (and API keys holding commissions:write)."""
    return getattr(actor, "is_operator", False) or getattr(actor, "api_key", None) is not None


@transaction.atomic
def create_rule(*, data: dict, actor) -> CommissionRule:
    require_write(actor, "commission_rules")
    # Serialise rule writes so two operators cannot create twin rules at once.
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {referrals_sql.COMMISSION_RULE} IN SHARE ROW EXCLUSIVE MODE")
    return CommissionRule.objects.create(**_clean_rule(data, current=None))


@transaction.atomic
def update_rule(*, rule: CommissionRule, data: dict, actor) -> CommissionRule:
    """Changes apply to orders that arrive from now on; existing commissions keep their terms."""
    require_write(actor, "commission_rules")
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {referrals_sql.COMMISSION_RULE} IN SHARE ROW EXCLUSIVE MODE")
    rule = CommissionRule.objects.select_for_update().get(pk=rule.pk)
    for field, value in _clean_rule(data, current=rule).items():
        setattr(rule, field, value)
    rule.save()
    return rule


@transaction.atomic
def delete_rule(*, rule: CommissionRule, actor) -> None:
    require_write(actor, "commission_rules")
    rule.delete()  # commissions keep their snapshot of the terms (rule set to NULL)


# --- commissions ---------------------------------------------------------------------------------------

# Per order: the referrer behind its code, whether the buyer is that referrer (same member, same
# phone, or a pending buyer identity that is one of the referrer's), the most specific active rule,
# and the rule's base: the order's net, or the net of the lines in the rule's category (order-level
# refunds not tied to a line are shared over lines by amount).
_ORDER_FACTS = f"""
o AS (
    SELECT o.id, o.member_id, o.channel, o.currency, o.total_amount, o.refunded_amount, o.placed_at,
           rc.member_id AS referrer_id, rc.code,
           CASE WHEN o.member_id = rc.member_id THEN 'self_referral'
                WHEN rp.phone <> '' AND rp.phone = bm.phone THEN 'same_phone'
                WHEN o.member_id IS NULL AND EXISTS (
                    SELECT 1 FROM {members_sql.IDENTITY} i
                     WHERE i.member_id = rc.member_id AND i.channel = o.buyer_channel
                       AND i.namespace = o.buyer_namespace AND i.external_id = o.buyer_external_id)
                THEN 'same_identity'
                ELSE '' END AS self_reason
      FROM {orders_sql.ORDER} o
      JOIN {referrals_sql.REFERRAL_CODE} rc ON rc.code = upper(o.referral_code)
      JOIN {members_sql.MEMBER} rp ON rp.id = rc.member_id
      LEFT JOIN {members_sql.MEMBER} bm ON bm.id = o.member_id
     WHERE o.id = ANY(%(ids)s) AND o.referral_code <> ''
)"""

_BASE = f"""
LEFT JOIN LATERAL (
    SELECT coalesce(sum(l.amount), 0) AS all_amount, coalesce(sum(l.refunded_amount), 0) AS all_refunded,
           coalesce(sum(l.amount) FILTER (WHERE l.category = {{cat}}), 0) AS cat_amount,
           coalesce(sum(l.refunded_amount) FILTER (WHERE l.category = {{cat}}), 0) AS cat_refunded
      FROM {orders_sql.ORDER_LINE} l WHERE l.order_id = o.id
) ls ON {{cat}} <> ''
CROSS JOIN LATERAL (
    SELECT CASE WHEN {{cat}} = '' THEN o.total_amount ELSE ls.cat_amount END AS gross,
           greatest(0, CASE WHEN {{cat}} = '' THEN o.total_amount - o.refunded_amount
                ELSE ls.cat_amount - ls.cat_refunded
                     - greatest(0, o.refunded_amount - ls.all_refunded) * ls.cat_amount / nullif(o.total_amount, 0)
                END) AS net
) b"""

_RULE_BASE = _BASE.format(cat="coalesce(r.category, '')")
_COMMISSION_BASE = _BASE.format(cat="c.category")

_INSERT = f"""
WITH {_ORDER_FACTS}
INSERT INTO {referrals_sql.COMMISSION} (
    order_id, referrer_id, referred_member_id, rule_id, code, category, rate, fixed_amount, base_amount,
    original_amount, amount, currency, status, cancel_reason, placed_at, payable_at, created_at, updated_at)
SELECT o.id, o.referrer_id, o.member_id, r.id, o.code, coalesce(r.category, ''), coalesce(r.rate, 0),
       coalesce(r.fixed_amount, 0), coalesce(b.gross, 0), coalesce(v.original, 0),
       CASE WHEN o.self_reason <> '' OR b.net <= 0 THEN 0
            ELSE round(v.original * b.net / nullif(b.gross, 0), 2) END,
       o.currency,
       CASE WHEN o.self_reason <> '' OR b.net <= 0 THEN 'cancelled' ELSE 'pending' END,
       CASE WHEN o.self_reason <> '' THEN o.self_reason WHEN b.net <= 0 THEN 'refunded' ELSE '' END,
       o.placed_at, o.placed_at + make_interval(days => coalesce(r.return_window_days, 0)), now(), now()
  FROM o
  LEFT JOIN LATERAL (
      SELECT r.* FROM {referrals_sql.COMMISSION_RULE} r
       WHERE r.is_active AND (r.channel = '' OR r.channel = o.channel)
         AND (r.category = '' OR EXISTS (
              SELECT 1 FROM {orders_sql.ORDER_LINE} l WHERE l.order_id = o.id AND l.category = r.category))
       ORDER BY (r.channel <> '')::int * 2 + (r.category <> '')::int DESC, r.priority DESC, r.id
       LIMIT 1
  ) r ON true
  {_RULE_BASE}
  CROSS JOIN LATERAL (SELECT round(coalesce(r.rate, 0) * b.gross / 100 + coalesce(r.fixed_amount, 0), 2)
                      AS original) v
 WHERE r.id IS NOT NULL OR o.self_reason <> ''
ON CONFLICT (order_id) DO NOTHING
"""

# Pending commissions follow their order: refunds scale the amount by what is left of the base, a
# full refund or a buyer now known to be the referrer cancels it.
_UPDATE_PENDING = f"""
WITH {_ORDER_FACTS}, n AS (
    SELECT c.id, o.member_id, o.self_reason, b.net
      FROM {referrals_sql.COMMISSION} c
      JOIN o ON o.id = c.order_id
      {_COMMISSION_BASE}
     WHERE c.status = 'pending'
)
UPDATE {referrals_sql.COMMISSION} c
   SET referred_member_id = n.member_id,
       amount = CASE WHEN n.self_reason <> '' OR n.net <= 0 THEN 0
                     ELSE least(c.original_amount, round(c.original_amount * n.net / nullif(c.base_amount, 0), 2))
                END,
       status = CASE WHEN n.self_reason <> '' OR n.net <= 0 THEN 'cancelled' ELSE 'pending' END,
       cancel_reason = CASE WHEN n.self_reason <> '' THEN n.self_reason WHEN n.net <= 0 THEN 'refunded' ELSE '' END,
       updated_at = now()
  FROM n
 WHERE c.id = n.id
"""

# The first order carrying a valid code records who referred its buyer (once per member).
_RECORD_REFERRALS = f"""
WITH {_ORDER_FACTS}, firsts AS (
    SELECT DISTINCT ON (o.member_id) o.member_id, o.referrer_id, o.code, o.id AS order_id
      FROM o
     WHERE o.member_id IS NOT NULL AND o.self_reason = ''
     ORDER BY o.member_id, o.placed_at, o.id
)
INSERT INTO {referrals_sql.REFERRAL} (member_id, referrer_id, code, order_id, source, created_at)
SELECT f.member_id, f.referrer_id, f.code, f.order_id, 'order', now()
  FROM firsts f
 WHERE NOT EXISTS (SELECT 1 FROM {referrals_sql.REFERRAL} back
                    WHERE back.member_id = f.referrer_id AND back.referrer_id = f.member_id)
ON CONFLICT (member_id) DO NOTHING
"""


def sync_commissions(*, order_ids: Iterable[int]) -> dict:
    """Bring the commissions of these orders in line with them: new referred orders earn one by the
    most specific active rule (self-referrals are recorded as cancelled, with why), pending ones
    follow refunds and buyer links, and the buyer's referrer is recorded. Idempotent."""
    ids = sorted({int(i) for i in order_ids})
    if not ids:
        return {"updated": 0, "created": 0, "referrals": 0}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_UPDATE_PENDING, {"ids": ids})
        updated = cursor.rowcount
        cursor.execute(_INSERT, {"ids": ids})
        created = cursor.rowcount
        cursor.execute(_RECORD_REFERRALS, {"ids": ids})
        referrals = cursor.rowcount
    return {"updated": updated, "created": created, "referrals": referrals}


_RELEASE = f"""
WITH due AS (
    SELECT c.id FROM {referrals_sql.COMMISSION} c
     WHERE c.status = 'pending' AND c.payable_at <= %(now)s
     ORDER BY c.id
     FOR UPDATE OF c SKIP LOCKED
)
UPDATE {referrals_sql.COMMISSION} c
   SET status = 'payable', updated_at = now()
  FROM due, {orders_sql.ORDER} o
 WHERE c.id = due.id AND o.id = c.order_id AND o.refunded_amount < o.total_amount AND c.amount > 0
"""


def release_due_commissions(*, now=None) -> int:
    """Pending commissions whose return window has ended become payable; each is first brought in
    line with its order, so a refund the hook has not processed yet still counts (a fully refunded
    order is cancelled, never payable). Returns how many became payable."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT order_id FROM {referrals_sql.COMMISSION} WHERE status = 'pending' AND payable_at <= %s", [now]
        )
        due_orders = [row[0] for row in cursor.fetchall()]
    released = 0
    for start in range(0, len(due_orders), 10_000):
        sync_commissions(order_ids=due_orders[start : start + 10_000])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_RELEASE, {"now": now})
        released = cursor.rowcount
    return released


@transaction.atomic
def mark_paid(*, commission_ids: Iterable, actor) -> int:
    """Mark payable commissions paid, all or none: any id that is unknown, out of the caller's
    reach or not payable is named and nothing changes."""
    raw = commission_ids if isinstance(commission_ids, list | tuple) else None
    if not raw:
        raise InvalidInput(details={"ids": [_("Choose at least one commission (a list of ids).")]})
    if any(isinstance(i, bool) or not str(i).isdigit() for i in raw):
        raise InvalidInput(details={"ids": [_("Expected a list of commission ids.")]})
    ids = sorted({int(i) for i in raw})
    found = dict(
        scope(Commission.objects.filter(pk__in=ids), actor)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", "status")
    )
    missing = [_("Commission %(id)s was not found.") % {"id": pk} for pk in ids if pk not in found]
    if missing:
        raise NotInScope(details={"ids": missing})
    problems = [
        _("Commission %(id)s is %(status)s, not payable.") % {"id": pk, "status": CommissionStatus(found[pk]).label}
        for pk in ids
        if found[pk] != CommissionStatus.PAYABLE
    ]
    if problems:
        raise InvalidInput(details={"ids": problems})
    now = timezone.now()
    return Commission.objects.filter(pk__in=ids, status=CommissionStatus.PAYABLE).update(
        status=CommissionStatus.PAID, paid_at=now, updated_at=now, paid_by=actor if isinstance(actor, User) else None
    )
