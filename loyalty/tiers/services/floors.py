"""Manual floors: a minimum level given to a member, with a reason, by operators or the manager of the
member's store."""

from __future__ import annotations

from django.db import connection, transaction
from django.utils.translation import gettext as _

from loyalty.tiers.models import ChangeReason, MemberTier, TierChange, TierLevel
from loyalty.tiers.services.ladder import LADDER_ID
from loyalty.tiers.services.recalculation import LOCK_KEY, recalculate_tiers
from members.models import Member
from scrm.errors import Forbidden, InvalidInput, NotInScope
from scrm.models import Role


def can_set_floor(actor, member: Member) -> bool:
    if getattr(actor, "api_key", None) is not None:
        return True  # the API checked the key's scope and store
    role = getattr(actor, "role", None)
    if role == Role.OPERATOR:
        return True
    return role == Role.STORE_MANAGER and actor.store_id is not None and actor.store_id == member.home_store_id


@transaction.atomic
def set_floor(*, member: Member, level_id: int | None, reason: str, actor) -> MemberTier:
    """Give `member` a minimum level (or clear it with level_id None), with a reason; the member is
    recalculated at once and the change is recorded in their tier history even when their level
    does not move. Operators, and store managers of the member's store, may do this."""
    if not member.is_live:
        raise NotInScope()
    if not can_set_floor(actor, member):
        raise Forbidden(_("Only operators and the manager of the member's store can set a tier floor."))
    reason = (reason or "").strip()
    errors: dict = {}
    level = None
    if level_id is not None:
        level = (
            TierLevel.objects.filter(pk=level_id, ladder_id=LADDER_ID).first()
            if isinstance(level_id, int) and not isinstance(level_id, bool)
            else None
        )
        if level is None:
            errors["level"] = [_("Unknown level %(id)s: choose a level of the ladder.") % {"id": level_id}]
    if level is not None and not reason:
        errors["reason"] = [_("Say why the member gets this floor.")]
    elif len(reason) > 200:
        errors["reason"] = [_("Enter at most 200 characters.")]
    if errors:
        raise InvalidInput(details=errors)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
    tier, _created = MemberTier.objects.select_for_update().get_or_create(member=member)
    tier.floor_level, tier.floor_reason = level, reason if level else ""
    tier.save(update_fields=["floor_level", "floor_reason"])
    result = recalculate_tiers(member_ids=[member.pk], reason=ChangeReason.FLOOR, actor=actor, note=reason)
    tier.refresh_from_db()
    if member.pk not in result.member_ids_moved:
        current = tier.level
        TierChange.objects.create(
            member=member,
            from_level=current,
            to_level=current,
            from_name=getattr(current, "name", ""),
            to_name=getattr(current, "name", ""),
            from_rank=getattr(current, "rank", 0),
            to_rank=getattr(current, "rank", 0),
            reason=ChangeReason.FLOOR,
            qualifying_value=tier.qualifying_value,
            note=reason,
            changed_by=actor if getattr(actor, "api_key", None) is None else None,
            actor_label=str(actor.api_key) if getattr(actor, "api_key", None) is not None else "",
        )
    return tier
