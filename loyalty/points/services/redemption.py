"""Redeeming a reward for points, and cancelling a redemption.

Cancelling a redemption puts its points back into the lots they were taken from, keeping those lots'
expiry dates; a lot whose date has passed meanwhile expires again at once, exactly as if the points
had never been spent. (Lots that have moved to another profile in a merge are replaced by a new lot.)"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.points import reasons, tiering
from loyalty.points import sql as points_sql
from loyalty.points.errors import InsufficientPoints, RewardUnavailable
from loyalty.points.models import (
    EntryKind,
    LotSource,
    MemberPoints,
    PointEntry,
    PointLot,
    PointsPolicy,
    Redemption,
    RedemptionStatus,
    Reward,
)
from loyalty.points.services.expiry import expire_locked
from loyalty.points.services.ledger import change_balance, consume, lock_balances, record_entry
from members.models import Member
from scrm.actors import actor_label, actor_user
from scrm.errors import Conflict, NotInScope


def _check_reward(reward: Reward, member: Member, now) -> None:
    if not reward.is_active:
        raise RewardUnavailable(
            _("%(reward)s is not active.") % {"reward": reward.name},
            code="reward_inactive",
            details={"reward": [_("Not active.")]},
        )
    if (reward.starts_at and now < reward.starts_at) or (reward.ends_at and now >= reward.ends_at):
        raise RewardUnavailable(
            _("%(reward)s is not available at this time.") % {"reward": reward.name},
            code="reward_not_in_window",
            details={"reward": [_("Outside its availability window.")]},
        )
    if reward.stock is not None and reward.stock <= 0:
        raise RewardUnavailable(
            _("%(reward)s is out of stock.") % {"reward": reward.name},
            code="out_of_stock",
            details={"reward": [_("Out of stock.")]},
        )
    if reward.min_tier_rank:
        rank, name = tiering.rank_of(member.pk)
        if (rank or 0) < reward.min_tier_rank:
            raise RewardUnavailable(
                _("%(reward)s is for members of tier rank %(rank)s and up.")
                % {"reward": reward.name, "rank": reward.min_tier_rank},
                code="tier_too_low",
                details={
                    "reward": [
                        _("The member's tier (%(tier)s) is below the rank this reward needs.")
                        % {"tier": name or _("none")}
                    ]
                },
            )


@transaction.atomic
def redeem(*, member: Member, reward: Reward, actor, note: str = "") -> Redemption:
    """Spend a reward's points (oldest-expiring lots first) and take one from its stock. Refused with
    a clear error and nothing changed when the programme is off, the reward is unavailable, the
    member's limit is reached or the balance is short."""
    if not PointsPolicy.current().enabled:
        raise Conflict(_("The points programme is switched off."), code="points_disabled")
    if not member.is_live:
        raise NotInScope(details={"member": [_("This profile was merged or erased.")]})
    now = timezone.now()
    reward = Reward.objects.get(pk=reward.pk)
    with connection.cursor() as cursor:
        _check_reward(reward, member, now)
        balance = lock_balances(cursor, [member.pk])[member.pk]
        if expire_locked(cursor, [member.pk], now):
            balance = MemberPoints.objects.get(pk=member.pk).balance
        if reward.per_member_limit is not None:
            used = Redemption.objects.filter(member=member, reward=reward, status=RedemptionStatus.REDEEMED).count()
            if used >= reward.per_member_limit:
                raise RewardUnavailable(
                    _("%(member)s has already redeemed %(reward)s %(n)s time(s), the limit per member.")
                    % {"member": member.name, "reward": reward.name, "n": used},
                    code="limit_reached",
                    details={"reward": [_("Limit per member reached.")]},
                )
        cost = reward.points_cost
        if balance < cost:
            raise InsufficientPoints(
                _("%(reward)s needs %(cost)s pts; the balance is %(balance)s pts.")
                % {"reward": reward.name, "cost": cost, "balance": balance},
                details={"points": [_("Needs %(cost)s, has %(balance)s.") % {"cost": cost, "balance": balance}]},
            )
        balance = change_balance(cursor, member.pk, -cost, redeemed_total=cost)
        cursor.execute(
            f"UPDATE {points_sql.REWARD} SET stock = stock - 1, updated_at = now() WHERE id = %s AND stock IS NOT NULL "
            "AND stock > 0 RETURNING stock",
            [reward.pk],
        )
        if reward.stock is not None and cursor.fetchone() is None:
            raise RewardUnavailable(
                _("%(reward)s is out of stock.") % {"reward": reward.name},
                code="out_of_stock",
                details={"reward": [_("Out of stock.")]},
            )
        lots = consume(cursor, member.pk, cost)
    user = actor_user(actor)
    redemption = Redemption.objects.create(
        member=member,
        reward=reward,
        points=cost,
        note=note[:200],
        created_by=user,
        created_by_label=actor_label(actor),
        store=getattr(actor, "store", None) if user else None,
        created_at=now,
    )
    params = {"reward": reward.name, "kind": reward.kind, "cost": cost}
    record_entry(
        member=member,
        kind=EntryKind.REDEEM,
        delta=-cost,
        balance_after=balance,
        redemption=redemption,
        lots=lots,
        explanation=reasons.describe(reasons.REDEEM, params)[:500],
        reason_code=reasons.REDEEM,
        reason_params=params,
        actor=actor,
        created_at=now,
    )
    return redemption


@transaction.atomic
def cancel_redemption(*, redemption: Redemption, actor, reason: str = "") -> Redemption:
    """Give the points back (into the lots they came from) and the reward back to its stock."""
    redemption = Redemption.objects.select_for_update().select_related("reward").get(pk=redemption.pk)
    if redemption.status == RedemptionStatus.CANCELLED:
        raise Conflict(
            _("This redemption was already cancelled."),
            code="already_cancelled",
            details={"redemption": [_("Already cancelled.")]},
        )
    member_id = redemption.member_id
    now = timezone.now()
    spent = PointEntry.objects.filter(redemption=redemption, kind=EntryKind.REDEEM).values_list("lots", flat=True)
    taken = [pair for lots in spent for pair in lots]
    with connection.cursor() as cursor:
        lock_balances(cursor, [member_id])
        cursor.execute(
            f"UPDATE {points_sql.REWARD} SET stock = stock + 1, updated_at = now() WHERE id = %s AND stock IS NOT NULL",
            [redemption.reward_id],
        )
        restored: list[list[int]] = []
        if taken:
            cursor.execute(
                f"""
                WITH back AS (SELECT * FROM unnest(%s::bigint[], %s::int[]) AS b(lot_id, points))
                UPDATE {points_sql.POINT_LOT} l SET remaining = l.remaining + back.points FROM back
                WHERE l.id = back.lot_id AND l.member_id = %s AND l.remaining + back.points <= l.points
                RETURNING l.id, back.points
                """,
                [[p[0] for p in taken], [p[1] for p in taken], member_id],
            )
            restored = [[r[0], r[1]] for r in cursor.fetchall()]
        missing = redemption.points - sum(p for _lot, p in restored)
        if missing > 0:
            policy = PointsPolicy.current()
            lot = PointLot.objects.create(
                member_id=member_id,
                source=LotSource.REDEMPTION_CANCELLED,
                points=missing,
                remaining=missing,
                reason=_("Cancelled redemption %(id)s") % {"id": redemption.pk},
                earned_at=now,
                expires_at=policy.expires_at(now),
            )
            restored.append([lot.pk, missing])
        balance = change_balance(cursor, member_id, redemption.points, redeemed_total=-redemption.points)
        redemption.status = RedemptionStatus.CANCELLED
        redemption.cancelled_at = now
        redemption.cancelled_by = actor_user(actor)
        redemption.cancel_reason = reason[:200]
        redemption.save(update_fields=["status", "cancelled_at", "cancelled_by", "cancel_reason"])
        params = {"reward": redemption.reward.name, "points": redemption.points, "note": reason}
        record_entry(
            member_id=member_id,
            kind=EntryKind.REDEMPTION_CANCELLED,
            delta=redemption.points,
            balance_after=balance,
            redemption=redemption,
            lots=restored,
            explanation=reasons.describe(reasons.REDEMPTION_CANCELLED, params)[:500],
            reason_code=reasons.REDEMPTION_CANCELLED,
            reason_params=params,
            actor=actor,
            created_at=now,
        )
        # Points whose lot's date passed while they were spent expire again now.
        expire_locked(cursor, [member_id], now)
    return redemption
