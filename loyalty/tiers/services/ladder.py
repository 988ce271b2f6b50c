"""The brand's tier ladder: its fields (basis, window, downgrade policy) and levels, checked all or
nothing; a change queues everyone's recalculation once it commits."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils.translation import gettext as _

from loyalty.tiers import bases
from loyalty.tiers.models import ChangeReason, DowngradePolicy, TierLadder, TierLevel
from scrm.errors import InvalidInput
from scrm.permissions import require_write

LADDER_ID = 1
MAX_LEVELS = 20
MAX_WINDOW_DAYS = 3660
MAX_THRESHOLD = Decimal("999999999999.99")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


LADDER_FIELDS = ("name", "basis", "window_days", "downgrade_policy", "period_end_month", "period_end_day", "grace_days")


def _int(value, errors: dict, field: str, *, minimum: int, maximum: int):
    if isinstance(value, bool) or not isinstance(value, int | str):
        errors[field] = [_("Enter a whole number.")]
        return None
    try:
        number = int(value)
    except ValueError:
        errors[field] = [_("Enter a whole number.")]
        return None
    if not minimum <= number <= maximum:
        errors[field] = [_("Enter a number from %(min)d to %(max)d.") % {"min": minimum, "max": maximum}]
        return None
    return number


def _clean_ladder_fields(data: dict, current: dict) -> tuple[dict, dict]:
    errors: dict = {}
    values = dict(current)
    for field in LADDER_FIELDS:
        if field in data:
            values[field] = data[field]
    name = values.get("name") or ""
    if not isinstance(name, str) or len(name) > 64:
        errors["name"] = [_("Enter at most 64 characters.")]
    if not isinstance(values["basis"], str) or values["basis"] not in {b.key for b in bases.available()}:
        known = ", ".join(b.key for b in bases.available())
        errors["basis"] = [
            _('Unknown basis "%(value)s"; available: %(known)s.') % {"value": values["basis"], "known": known}
        ]
    values["window_days"] = _int(values["window_days"], errors, "window_days", minimum=1, maximum=MAX_WINDOW_DAYS)
    if values["downgrade_policy"] not in DowngradePolicy.values:
        errors["downgrade_policy"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(DowngradePolicy.values)}]
    values["grace_days"] = _int(values["grace_days"], errors, "grace_days", minimum=1, maximum=MAX_WINDOW_DAYS)
    month = _int(values["period_end_month"], errors, "period_end_month", minimum=1, maximum=12)
    day = _int(values["period_end_day"], errors, "period_end_day", minimum=1, maximum=31)
    if month is not None and day is not None:
        try:
            datetime.date(2023, month, day)  # a non-leap year: 29 February is not a period end
        except ValueError:
            errors["period_end_day"] = [
                _("%(month)d has no day %(day)d (29 February is not allowed).") % {"month": month, "day": day}
            ]
    values["period_end_month"], values["period_end_day"] = month, day
    return values, errors


def _problem(problems: dict, index: int, field: str, message) -> None:
    problems.setdefault(str(index), {}).setdefault(field, []).append(str(message))


def _label(level: dict) -> str:
    return f'"{level["name"]}"' if level["name"] else _("at position %(n)d") % {"n": level["index"] + 1}


def _clean_threshold(raw, index: int, problems: dict) -> Decimal | None:
    try:
        threshold = Decimal(str(raw))
        if not threshold.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        _problem(problems, index, "threshold", _("Enter a number, e.g. 2000 or 2000.00."))
        return None
    if threshold < 0 or threshold > MAX_THRESHOLD:
        _problem(
            problems,
            index,
            "threshold",
            _("The threshold cannot be negative or above %(max)s.") % {"max": MAX_THRESHOLD},
        )
        return None
    if threshold != threshold.quantize(Decimal("0.01")):
        _problem(problems, index, "threshold", _("At most two decimal places."))
        return None
    return threshold


def _clean_level(index: int, item, existing_ids: set[int], problems: dict) -> dict | None:
    """One level as given, its fields cleaned (None where invalid, with a problem recorded)."""
    if not isinstance(item, dict):
        _problem(problems, index, "non_field_errors", _("Expected an object with rank, name and threshold."))
        return None
    level = {
        "index": index,
        "id": item.get("id"),
        "benefits": item.get("benefits") or "",
        "colour": item.get("colour") or "",
    }
    if level["id"] is not None and level["id"] not in existing_ids:
        _problem(problems, index, "id", _("Level id %(id)s is not on this ladder.") % {"id": level["id"]})
    name = item.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 64:
        _problem(problems, index, "name", _("Give the level a name of at most 64 characters."))
        name = None
    level["name"] = name.strip() if name else None
    rank = item.get("rank", index + 1)
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= MAX_LEVELS:
        _problem(problems, index, "rank", _("Rank must be a whole number from 1 to %(n)d.") % {"n": MAX_LEVELS})
        rank = None
    level["rank"] = rank
    level["threshold"] = _clean_threshold(item.get("threshold"), index, problems)
    if not isinstance(level["benefits"], str) or len(level["benefits"]) > 2000:
        _problem(problems, index, "benefits", _("Benefits must be text of at most 2,000 characters."))
    if level["colour"] and (not isinstance(level["colour"], str) or not _COLOUR.match(level["colour"])):
        _problem(problems, index, "colour", _("Write the colour as #rrggbb, e.g. #8b5e3c."))
    return level


def _check_unique(levels: list[dict], problems: dict) -> None:
    """No two levels share a rank, a name (ignoring case) or an id."""
    seen_ranks: dict[int, dict] = {}
    seen_names: dict[str, dict] = {}
    seen_ids: dict[int, dict] = {}
    for level in levels:
        if level["rank"] is not None:
            if level["rank"] in seen_ranks:
                _problem(
                    problems,
                    level["index"],
                    "rank",
                    _("Level %(level)s has rank %(rank)d, like level %(other)s.")
                    % {"level": _label(level), "rank": level["rank"], "other": _label(seen_ranks[level["rank"]])},
                )
            seen_ranks.setdefault(level["rank"], level)
        if level["name"]:
            key = level["name"].casefold()
            if key in seen_names:
                _problem(
                    problems, level["index"], "name", _("Two levels are called %(level)s.") % {"level": _label(level)}
                )
            seen_names.setdefault(key, level)
        if level["id"] is not None:
            if level["id"] in seen_ids:
                _problem(problems, level["index"], "id", _("Level id %(id)s is given twice.") % {"id": level["id"]})
            seen_ids.setdefault(level["id"], level)


def _check_ranks_without_gaps(ranked: list[dict], problems: dict) -> None:
    if [lv["rank"] for lv in ranked] == list(range(1, len(ranked) + 1)):
        return
    missing = sorted(set(range(1, len(ranked) + 1)) - {lv["rank"] for lv in ranked})
    for level in ranked:
        if level["rank"] > len(ranked):
            _problem(
                problems,
                level["index"],
                "rank",
                _("Ranks run from 1 to %(n)d without gaps; rank %(missing)s is missing.")
                % {"n": len(ranked), "missing": ", ".join(map(str, missing))},
            )


def _check_rising_thresholds(ranked: list[dict], problems: dict) -> None:
    previous = None
    for level in ranked:
        if level["threshold"] is None:
            previous = None
            continue
        if previous is not None and level["threshold"] <= previous["threshold"]:
            _problem(
                problems,
                level["index"],
                "threshold",
                _(
                    "Level %(level)s (rank %(rank)d) needs a threshold above %(other_threshold)s, the threshold of "
                    "level %(other)s (rank %(other_rank)d): thresholds must rise with the rank."
                )
                % {
                    "level": _label(level),
                    "rank": level["rank"],
                    "other": _label(previous),
                    "other_rank": previous["rank"],
                    "other_threshold": previous["threshold"],
                },
            )
        previous = level


def _clean_levels(raw, existing_ids: set[int]) -> tuple[list[dict], dict]:
    """Levels as given (a list of {id?, rank, name, threshold, benefits?, colour?}); errors are keyed
    by the position in the list and name the level."""
    if not isinstance(raw, list) or not raw:
        return [], {"levels": [_("Give at least one level.")]}
    if len(raw) > MAX_LEVELS:
        return [], {"levels": [_("At most %(n)d levels.") % {"n": MAX_LEVELS}]}
    problems: dict = {}
    levels = [level for i, item in enumerate(raw) if (level := _clean_level(i, item, existing_ids, problems))]
    _check_unique(levels, problems)
    ranked = sorted((lv for lv in levels if lv["rank"] is not None), key=lambda lv: lv["rank"])
    if not problems:
        _check_ranks_without_gaps(ranked, problems)
    _check_rising_thresholds(ranked, problems)
    return levels, ({"levels": problems} if problems else {})


def _ladder_state(ladder: TierLadder | None) -> dict:
    if ladder is None:
        return {
            "name": "",
            "basis": "spend",
            "window_days": 365,
            "downgrade_policy": DowngradePolicy.NONE,
            "period_end_month": 12,
            "period_end_day": 31,
            "grace_days": 30,
        }
    return {field: getattr(ladder, field) for field in LADDER_FIELDS}


def _levels_state(ladder: TierLadder | None) -> list[tuple]:
    if ladder is None:
        return []
    return list(ladder.levels.order_by("rank").values_list("id", "rank", "name", "threshold", "benefits", "colour"))


@transaction.atomic
def save_ladder(*, actor, data: dict, partial: bool = False) -> TierLadder:
    """Create or edit the brand's ladder. `data` holds the ladder's fields and, for a full save (or
    a partial one that names them), `levels`: the whole list, in any order; a level with an `id`
    keeps its members until they are recalculated, levels left out are removed. Any bad value is
    an InvalidInput naming the field (or the level), and nothing is written. When anything changed,
    everyone is recalculated by Celery once this commits."""
    require_write(actor, "tiers")
    if not isinstance(data, dict):
        raise InvalidInput(details={"non_field_errors": [_("Expected a JSON object.")]})
    ladder = TierLadder.objects.select_for_update().filter(pk=LADDER_ID).first()
    before = (_ladder_state(ladder), _levels_state(ladder))
    unknown = set(data) - set(LADDER_FIELDS) - {"levels", "id", "updated_at", "updated_by"}
    errors: dict = {field: [_("Unknown field.")] for field in sorted(unknown)}
    values, field_errors = _clean_ladder_fields(data, _ladder_state(ladder))
    errors.update(field_errors)
    levels = None
    if "levels" in data or not partial or ladder is None:
        existing = set(ladder.levels.values_list("id", flat=True)) if ladder else set()
        levels, level_errors = _clean_levels(data.get("levels"), existing)
        errors.update(level_errors)
    if errors:
        raise InvalidInput(details=errors)
    if ladder is None:
        ladder = TierLadder(pk=LADDER_ID)
    for field, value in values.items():
        setattr(ladder, field, value)
    ladder.updated_by = actor if getattr(actor, "pk", None) and getattr(actor, "api_key", None) is None else None
    ladder.save()
    if levels is not None:
        _replace_levels(ladder, levels)
    if (_ladder_state(ladder), _levels_state(ladder)) != before:
        from loyalty.tiers import tasks

        actor_id = ladder.updated_by_id
        transaction.on_commit(lambda: tasks.recalculate_all_tiers.delay(reason=ChangeReason.POLICY, actor_id=actor_id))
    return ladder


def _replace_levels(ladder: TierLadder, levels: list[dict]) -> None:
    keep = {lv["id"] for lv in levels if lv["id"] is not None}
    ladder.levels.exclude(id__in=keep).delete()  # members on them drop to no level until recalculated
    kept = list(ladder.levels.all())
    # Move kept levels out of the way first, so swapping two ranks or names never trips the
    # unique constraints halfway.
    for level in kept:
        level.rank, level.name = 1000 + level.rank, f"~moving {level.pk}"
    TierLevel.objects.bulk_update(kept, ["rank", "name"])
    by_id = {level.pk: level for level in kept}
    new = []
    for item in levels:
        level = by_id.get(item["id"]) if item["id"] is not None else TierLevel(ladder=ladder)
        level.rank, level.name, level.threshold = item["rank"], item["name"], item["threshold"]
        level.benefits, level.colour = item["benefits"], item["colour"]
        if level.pk:
            level.save()
        else:
            new.append(level)
    TierLevel.objects.bulk_create(new)


def get_ladder() -> TierLadder | None:
    return TierLadder.objects.filter(pk=LADDER_ID).first()
