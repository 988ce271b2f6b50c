"""The programme's ladder of levels: saved whole, so the rules between levels (no gap, no repeat, a
higher level asks more) are checked across the set before anything is written; and what the next
level needs, for a creator's page.

A higher rank asks at least as much in every minimum and strictly more in at least one. Otherwise
the two levels overlap: everyone who meets the higher one also meets the lower one for free, or the
lower one asks more than the higher, and the pyramid would not be a pyramid."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from koc.models import Benefit, Creator, Level, LevelChange, Topic
from scrm import permissions
from scrm.errors import InvalidInput

RESOURCE = "koc_programme"
LOCK_KEY = 0x4B4F4354  # "KOCT": the ladder and every recalculation take this advisory lock
MINIMUMS = ("min_posts", "min_viral", "min_interactions")
FIELDS = ("id", "rank", "name", "description", *MINIMUMS)
MAX_LEVELS = 12
NAME_MAX = Level._meta.get_field("name").max_length
BIG_MAX = 2**62


def _minimum_labels() -> dict[str, str]:
    return {
        "min_posts": _("posts published"),
        "min_viral": _("viral posts"),
        "min_interactions": _("weighted interactions"),
    }


def ladder() -> list[Level]:
    """Every level, base first."""
    return list(Level.objects.order_by("rank"))


def lock(cursor) -> None:
    """Serialise ladder edits and recalculations (transaction-scoped)."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])


# --- validation -----------------------------------------------------------------------------------


def _key(index: int, field: str) -> str:
    return f"levels[{index}].{field}"


def _int(value, *, index: int, field: str, errors: dict, minimum: int = 0, maximum: int = BIG_MAX):
    if isinstance(value, bool) or not isinstance(value, int):
        errors.setdefault(_key(index, field), []).append(_("A whole number is needed."))
        return None
    if not minimum <= value <= maximum:
        errors.setdefault(_key(index, field), []).append(
            _("Between %(low)d and %(high)d.") % {"low": minimum, "high": maximum})
        return None
    return value


def _clean_item(index: int, item, existing: dict[int, Level], errors: dict) -> dict | None:
    if not isinstance(item, dict):
        errors[f"levels[{index}]"] = [_("Each level is an object with rank, name and its minimums.")]
        return None
    unknown = sorted(set(item) - set(FIELDS))
    if unknown:
        errors[f"levels[{index}]"] = [_("Unknown fields: %(fields)s.") % {"fields": ", ".join(unknown)}]
    clean: dict = {}
    level_id = item.get("id")
    if level_id is not None:
        if isinstance(level_id, bool) or not isinstance(level_id, int) or level_id not in existing:
            errors[_key(index, "id")] = [_("No level with the id %(id)s.") % {"id": level_id}]
        clean["id"] = level_id
    if "rank" not in item:
        errors[_key(index, "rank")] = [_("A rank is needed (1 for the base of the pyramid).")]
    else:
        clean["rank"] = _int(item["rank"], index=index, field="rank", errors=errors, minimum=1, maximum=MAX_LEVELS)
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        errors[_key(index, "name")] = [_("A name is needed.")]
    elif len(name.strip()) > NAME_MAX:
        errors[_key(index, "name")] = [_("At most %(max)d characters.") % {"max": NAME_MAX}]
    else:
        clean["name"] = name.strip()
    description = item.get("description", "")
    if not isinstance(description, str) or len(description) > 2000:
        errors[_key(index, "description")] = [_("Text of at most 2,000 characters.")]
    clean["description"] = description if isinstance(description, str) else ""
    for field in MINIMUMS:
        clean[field] = _int(item.get(field, 0), index=index, field=field, errors=errors)
    return clean


def _check_set(items: list[dict], errors: dict) -> None:
    """Ranks 1..n without gap or repeat, unique names and ids, and each level asking more than the one below."""
    seen_ranks: dict[int, int] = {}
    for index, item in enumerate(items):
        rank = item.get("rank")
        if rank is None:
            continue
        if rank in seen_ranks:
            errors.setdefault(_key(index, "rank"), []).append(
                _("Rank %(rank)d is used twice (“%(other)s” has it too); each rank is one level.")
                % {"rank": rank, "other": items[seen_ranks[rank]].get("name", "")})
        else:
            seen_ranks[rank] = index
    if len(seen_ranks) == len(items) and all(i.get("rank") for i in items):
        expected = set(range(1, len(items) + 1))
        missing = sorted(expected - set(seen_ranks))
        if missing:
            errors.setdefault("levels", []).append(
                _("Ranks go from 1 to %(n)d without a gap: rank %(missing)s is missing.")
                % {"n": len(items), "missing": ", ".join(map(str, missing))})
    names: dict[str, int] = {}
    for index, item in enumerate(items):
        name = item.get("name")
        if name is None:
            continue
        if name.casefold() in names:
            errors.setdefault(_key(index, "name"), []).append(
                _("The name “%(name)s” is used by two levels; names are unique.") % {"name": name})
        names.setdefault(name.casefold(), index)
    ids = [item["id"] for item in items if item.get("id") is not None]
    if len(ids) != len(set(ids)):
        errors.setdefault("levels", []).append(_("The same level id appears twice."))
    _check_order(items, seen_ranks, errors)


def _check_order(items: list[dict], by_rank: dict[int, int], errors: dict) -> None:
    labels = _minimum_labels()
    for rank in sorted(by_rank):
        lower_index = by_rank.get(rank - 1)
        if lower_index is None:
            continue
        index = by_rank[rank]
        higher, lower = items[index], items[lower_index]
        if any(higher.get(f) is None or lower.get(f) is None for f in MINIMUMS):
            continue
        less = [f for f in MINIMUMS if higher[f] < lower[f]]
        names = {"name": higher.get("name", ""), "lower": lower.get("name", ""), "rank": rank}
        if less:
            for field in less:
                errors.setdefault(_key(index, field), []).append(
                    _("“%(name)s” (rank %(rank)d) asks fewer %(what)s (%(value)d) than “%(lower)s” below it "
                      "(%(low)d). A higher level asks at least as much in every minimum and more in at least one.")
                    % {**names, "what": labels[field], "value": higher[field], "low": lower[field]})
        elif all(higher[f] == lower[f] for f in MINIMUMS):
            errors.setdefault(_key(index, "rank"), []).append(
                _("“%(name)s” (rank %(rank)d) asks exactly what “%(lower)s” below it asks, so the two levels "
                  "overlap: everyone meeting one meets the other. A higher level asks at least as much in every "
                  "minimum and more in at least one.") % names)


def _check_removals(removed: list[Level], errors: dict) -> None:
    if not removed:
        return
    ids = [lv.pk for lv in removed]
    holders = dict(Creator.objects.filter(level_id__in=ids).values_list("level_id").annotate(n=Count("id")))
    benefits = dict(Benefit.objects.filter(level_id__in=ids).values_list("level_id").annotate(n=Count("id")))
    topics = dict(Topic.objects.filter(min_level_id__in=ids).values_list("min_level_id").annotate(n=Count("id")))
    history = set(LevelChange.objects.filter(from_level_id__in=ids).values_list("from_level_id", flat=True))
    history |= set(LevelChange.objects.filter(to_level_id__in=ids).values_list("to_level_id", flat=True))
    for level in removed:
        reasons = []
        if holders.get(level.pk):
            reasons.append(_("%(n)d creators hold it; move them first (or recalculate with the new ladder)")
                           % {"n": holders[level.pk]})
        if benefits.get(level.pk):
            reasons.append(_("%(n)d benefits belong to it") % {"n": benefits[level.pk]})
        if topics.get(level.pk):
            reasons.append(_("%(n)d topics open from it") % {"n": topics[level.pk]})
        if level.pk in history:
            reasons.append(_("creators' level history names it; rename it instead"))
        if reasons:
            errors.setdefault("levels", []).append(
                _("“%(name)s” cannot be removed: %(reasons)s.") % {"name": level.name, "reasons": "; ".join(reasons)})


# --- writing --------------------------------------------------------------------------------------


@transaction.atomic
def save_ladder(*, actor, levels: list[dict]) -> list[Level]:
    """Replace the whole ladder: `levels` lists every level to keep (with its `id`) or add (without);
    a level left out is removed. Refused whole (InvalidInput naming each level at fault) on a gap or
    repeat in ranks, a higher level not asking more, a repeated name, or removing a level that is
    held or referenced. Recalculations wait while it is saved; once committed, everyone is
    recalculated in the background (trigger "ladder")."""
    permissions.require_write(actor, RESOURCE)
    if not isinstance(levels, list) or not levels:
        raise InvalidInput(details={"levels": [_("The ladder needs at least one level.")]})
    if len(levels) > MAX_LEVELS:
        raise InvalidInput(details={"levels": [_("At most %(max)d levels.") % {"max": MAX_LEVELS}]})
    with connection.cursor() as cursor:
        lock(cursor)
    existing = {lv.pk: lv for lv in Level.objects.select_for_update().order_by("pk")}
    errors: dict = {}
    items = [_clean_item(i, item, existing, errors) or {} for i, item in enumerate(levels)]
    _check_set(items, errors)
    kept = {item["id"] for item in items if item.get("id") in existing}
    removed = [lv for pk, lv in sorted(existing.items()) if pk not in kept]
    _check_removals(removed, errors)
    if errors:
        raise InvalidInput(_("The ladder was not saved; see each level's problem."), details=errors)
    _write(items, existing, removed)
    from koc import tasks  # the tasks call this module's neighbours; imported late to keep services first

    transaction.on_commit(lambda: tasks.recalculate_tiers.delay(trigger="ladder"))
    return ladder()


def _write(items: list[dict], existing: dict[int, Level], removed: list[Level]) -> None:
    Level.objects.filter(pk__in=[lv.pk for lv in removed]).delete()
    kept_ids = [item["id"] for item in items if item.get("id")]
    # Ranks and names are unique: move the kept levels out of the way before the final values land.
    for pk in kept_ids:
        Level.objects.filter(pk=pk).update(rank=1000 + pk % 30000, name=f"~{pk}")
    for item in items:
        values = {f: item[f] for f in ("rank", "name", "description", *MINIMUMS)}
        if item.get("id"):
            Level.objects.filter(pk=item["id"]).update(**values)
        else:
            Level.objects.create(**values)


# --- what the next level needs --------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    minimum: str  # min_posts, min_viral, min_interactions
    label: str
    have: int
    need: int

    @property
    def missing(self) -> int:
        return max(self.need - self.have, 0)

    @property
    def met(self) -> bool:
        return self.have >= self.need


@dataclass(frozen=True)
class NextLevel:
    current: Level | None
    next: Level | None  # None: at the top of the pyramid (or no ladder)
    needs: tuple[Need, ...]
    counted_at: object

    @property
    def at_top(self) -> bool:
        return self.next is None


def next_level_needs(creator: Creator) -> NextLevel:
    """What the level above the creator's asks, against what the last recalculation counted in the
    window: per minimum, have / need / missing. At the top, `next` is None and `needs` empty."""
    current = creator.level
    levels = ladder()
    above = [lv for lv in levels if current is None or lv.rank > current.rank]
    target = above[0] if above else None
    if target is None:
        return NextLevel(current=current, next=None, needs=(), counted_at=creator.counted_at)
    labels = _minimum_labels()
    have = {"min_posts": creator.window_posts, "min_viral": creator.window_viral,
            "min_interactions": creator.window_interactions}
    needs = tuple(Need(minimum=f, label=labels[f], have=have[f], need=getattr(target, f)) for f in MINIMUMS)
    return NextLevel(current=current, next=target, needs=needs, counted_at=creator.counted_at)
