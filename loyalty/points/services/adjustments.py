"""Manual adjustments by operators: a new lot for points added, the oldest-expiring lots first for
points removed."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.points import reasons
from loyalty.points.errors import InsufficientPoints
from loyalty.points.models import EntryKind, LotSource, MemberPoints, PointEntry, PointLot, PointsPolicy
from loyalty.points.services.expiry import expire_locked
from loyalty.points.services.ledger import change_balance, consume, lock_balances, record_entry
from loyalty.points.services.policy import require_operator
from members.models import Member
from scrm.errors import InvalidInput, NotInScope

MAX_ADJUSTMENT = 10_000_000


def _parse_points(value) -> int:
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise ValueError


@transaction.atomic
def adjust_points(*, member: Member, points, reason: str, actor) -> PointEntry:
    """An operator adds (a new lot, expiring by the policy) or removes (oldest-expiring first) points."""
    require_operator(actor)
    errors = {}
    try:
        points = _parse_points(points)
        if points == 0 or abs(points) > MAX_ADJUSTMENT:
            errors["points"] = [
                _("A whole number of points other than 0, at most %(max)s either way.") % {"max": MAX_ADJUSTMENT}
            ]
    except ValueError:
        errors["points"] = [_("A whole number of points, e.g. 200 or -50.")]
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = [_("Say why: the member sees this in their history.")]
    elif len(reason) > 300:
        errors["reason"] = [_("At most 300 characters.")]
    if errors:
        raise InvalidInput(details=errors)
    if not member.is_live:
        raise NotInScope(details={"member": [_("This profile was merged or erased.")]})
    now = timezone.now()
    with connection.cursor() as cursor:
        balance = lock_balances(cursor, [member.pk])[member.pk]
        expire_locked(cursor, [member.pk], now)
        if points > 0:
            lot = PointLot.objects.create(
                member=member,
                source=LotSource.ADJUSTMENT,
                points=points,
                remaining=points,
                reason=reason,
                earned_at=now,
                expires_at=PointsPolicy.current().expires_at(now),
            )
            lots = [[lot.pk, points]]
            balance = change_balance(cursor, member.pk, points, earned_total=points)
        else:
            balance = MemberPoints.objects.get(pk=member.pk).balance
            if balance < -points:
                raise InsufficientPoints(
                    _("Cannot remove %(n)s pts: the balance is %(balance)s pts.") % {"n": -points, "balance": balance},
                    details={"points": [_("At most %(balance)s can be removed.") % {"balance": balance}]},
                )
            balance = change_balance(cursor, member.pk, points)
            lots = consume(cursor, member.pk, -points)
    return record_entry(
        member=member,
        kind=EntryKind.ADJUST,
        delta=points,
        balance_after=balance,
        lots=lots,
        explanation=reasons.describe(reasons.ADJUST, {"points": points, "reason": reason})[:500],
        reason_code=reasons.ADJUST,
        reason_params={"points": points, "reason": reason},
        actor=actor,
        created_at=now,
    )
