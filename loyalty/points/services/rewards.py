"""The rewards catalogue (operators): create, change and delete rewards."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from loyalty.points.models import Redemption, Reward
from scrm.errors import Conflict, InvalidInput
from scrm.permissions import require_write

REWARD_FIELDS = (
    "name",
    "kind",
    "points_cost",
    "stock",
    "per_member_limit",
    "is_active",
    "starts_at",
    "ends_at",
    "min_tier_rank",
    "description",
    "image_url",
)


def _validation_details(exc: ValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


@transaction.atomic
def save_reward(*, actor, values: dict, reward: Reward | None = None) -> Reward:
    """Create or change a reward of the catalogue (operators); every field is checked, all or nothing."""
    require_write(actor, "rewards")
    unknown = sorted(set(values) - set(REWARD_FIELDS))
    if unknown:
        raise InvalidInput(details={name: [_("Unknown field.")] for name in unknown})
    reward = reward if reward is not None else Reward()
    if reward.pk:
        reward = Reward.objects.select_for_update().get(pk=reward.pk)
    for name, value in values.items():
        setattr(reward, name, value)
    details: dict = {}
    try:
        reward.full_clean(validate_constraints=False)
    except ValidationError as exc:
        details = _validation_details(exc)
    if reward.starts_at and reward.ends_at and reward.ends_at <= reward.starts_at:
        details.setdefault("ends_at", []).append(_("Must be after the start of availability."))
    if details:
        raise InvalidInput(details=details)
    reward.save()
    return reward


@transaction.atomic
def delete_reward(*, actor, reward: Reward) -> None:
    require_write(actor, "rewards")
    if Redemption.objects.filter(reward=reward).exists():
        raise Conflict(
            _("%(reward)s has redemptions; make it inactive instead.") % {"reward": reward.name},
            code="reward_in_use",
            details={"reward": [_("Has redemptions.")]},
        )
    reward.delete()


def reward_for(reward_id) -> Reward:
    reward = Reward.objects.filter(pk=reward_id).first() if str(reward_id).isdigit() else None
    if reward is None:
        raise InvalidInput(details={"reward": [_("Unknown reward %(id)s.") % {"id": reward_id}]})
    return reward
