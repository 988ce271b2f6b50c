"""Writes of the tiers app: the ladder, recalculation (everyone or some members) and manual floors.

Recalculation is one family of set-based statements: a read query (parallel-safe, so PostgreSQL can
use every core) aggregates the qualifying value per member over the window, turns it into a level
by the thresholds, applies the floor and the downgrade policy, and keeps only the members whose row
would change, in a temporary table; then one INSERT ... ON CONFLICT writes those rows and one INSERT
writes their history. A transaction-scoped advisory lock serialises recalculations, so two at once
(the nightly run and an order's) never both record the same move.
"""

from __future__ import annotations

import datetime
import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from loyalty.tiers import bases
from loyalty.tiers.models import ChangeReason, DowngradePolicy, MemberTier, TierChange, TierLadder, TierLevel
from members.models import Member
from scrm.errors import Forbidden, InvalidInput, NotInScope
from scrm.models import Role

logger = logging.getLogger(__name__)

LOCK_KEY = 0x54494552  # "TIER": one advisory lock for every recalculation and floor change
LADDER_ID = 1
MAX_LEVELS = 20
MAX_WINDOW_DAYS = 3660
MAX_THRESHOLD = Decimal("999999999999.99")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


# --- the ladder ------------------------------------------------------------------------------------

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
    if values["basis"] not in {b.key for b in bases.available()}:
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


def _clean_levels(raw, existing_ids: set[int]) -> tuple[list[dict], dict]:
    """Levels as given (a list of {id?, rank, name, threshold, benefits?, colour?}); errors are keyed
    by the position in the list and name the level."""
    if not isinstance(raw, list) or not raw:
        return [], {"levels": [_("Give at least one level.")]}
    if len(raw) > MAX_LEVELS:
        return [], {"levels": [_("At most %(n)d levels.") % {"n": MAX_LEVELS}]}
    levels, problems = [], {}

    def problem(i, field, message):
        problems.setdefault(str(i), {}).setdefault(field, []).append(str(message))

    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            problem(i, "non_field_errors", _("Expected an object with rank, name and threshold."))
            continue
        level = {
            "index": i,
            "id": item.get("id"),
            "benefits": item.get("benefits") or "",
            "colour": item.get("colour") or "",
        }
        if level["id"] is not None and level["id"] not in existing_ids:
            problem(i, "id", _("Level id %(id)s is not on this ladder.") % {"id": level["id"]})
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 64:
            problem(i, "name", _("Give the level a name of at most 64 characters."))
            name = None
        level["name"] = name.strip() if name else None
        rank = item.get("rank", i + 1)
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= MAX_LEVELS:
            problem(i, "rank", _("Rank must be a whole number from 1 to %(n)d.") % {"n": MAX_LEVELS})
            rank = None
        level["rank"] = rank
        try:
            threshold = Decimal(str(item.get("threshold")))
            if not threshold.is_finite():
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            problem(i, "threshold", _("Enter a number, e.g. 2000 or 2000.00."))
            threshold = None
        if threshold is not None and (threshold < 0 or threshold > MAX_THRESHOLD):
            problem(i, "threshold", _("The threshold cannot be negative or above %(max)s.") % {"max": MAX_THRESHOLD})
            threshold = None
        if threshold is not None and threshold != threshold.quantize(Decimal("0.01")):
            problem(i, "threshold", _("At most two decimal places."))
            threshold = None
        level["threshold"] = threshold
        if not isinstance(level["benefits"], str) or len(level["benefits"]) > 2000:
            problem(i, "benefits", _("Benefits must be text of at most 2,000 characters."))
        if level["colour"] and (not isinstance(level["colour"], str) or not _COLOUR.match(level["colour"])):
            problem(i, "colour", _("Write the colour as #rrggbb, e.g. #8b5e3c."))
        levels.append(level)

    def label(level) -> str:
        return f'"{level["name"]}"' if level["name"] else _("at position %(n)d") % {"n": level["index"] + 1}

    seen_ranks: dict[int, dict] = {}
    seen_names: dict[str, dict] = {}
    seen_ids: dict[int, dict] = {}
    for level in levels:
        if level["rank"] is not None:
            if level["rank"] in seen_ranks:
                problem(
                    level["index"],
                    "rank",
                    _("Level %(level)s has rank %(rank)d, like level %(other)s.")
                    % {"level": label(level), "rank": level["rank"], "other": label(seen_ranks[level["rank"]])},
                )
            seen_ranks.setdefault(level["rank"], level)
        if level["name"]:
            key = level["name"].casefold()
            if key in seen_names:
                problem(level["index"], "name", _("Two levels are called %(level)s.") % {"level": label(level)})
            seen_names.setdefault(key, level)
        if level["id"] is not None:
            if level["id"] in seen_ids:
                problem(level["index"], "id", _("Level id %(id)s is given twice.") % {"id": level["id"]})
            seen_ids.setdefault(level["id"], level)
    ranked = sorted((lv for lv in levels if lv["rank"] is not None), key=lambda lv: lv["rank"])
    if not problems and [lv["rank"] for lv in ranked] != list(range(1, len(ranked) + 1)):
        missing = sorted(set(range(1, len(ranked) + 1)) - {lv["rank"] for lv in ranked})
        for level in ranked:
            if level["rank"] > len(ranked):
                problem(
                    level["index"],
                    "rank",
                    _("Ranks run from 1 to %(n)d without gaps; rank %(missing)s is missing.")
                    % {"n": len(ranked), "missing": ", ".join(map(str, missing))},
                )
    previous = None
    for level in ranked:
        if level["threshold"] is None:
            previous = None
            continue
        if previous is not None and level["threshold"] <= previous["threshold"]:
            problem(
                level["index"],
                "threshold",
                _(
                    "Level %(level)s (rank %(rank)d) needs a threshold above %(other_threshold)s, the threshold of "
                    "level %(other)s (rank %(other_rank)d): thresholds must rise with the rank."
                )
                % {
                    "level": label(level),
                    "rank": level["rank"],
                    "other": label(previous),
                    "other_rank": previous["rank"],
                    "other_threshold": previous["threshold"],
                },
            )
        previous = level
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


# --- recalculation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecalcResult:
    members_written: int = 0
    upgrades: int = 0
    downgrades: int = 0
    member_ids_moved: tuple = ()


def next_period_end(now: datetime.datetime, month: int, day: int) -> datetime.datetime:
    """The first moment after the period that contains `now` ends: midnight after (month, day),
    local time."""
    local = timezone.localtime(now)
    for year in (local.year, local.year + 1):
        end = timezone.make_aware(datetime.datetime(year, month, day) + datetime.timedelta(days=1))
        if end > now:
            return end
    raise AssertionError("unreachable")


def _levels_case(thresholds: list[Decimal]) -> tuple[str, dict]:
    # A CASE over a handful of thresholds is cheaper per row than any join or lookup.
    parts = [f"WHEN c.value >= %(t{rank})s THEN {rank}" for rank in range(len(thresholds), 0, -1)]
    params = {f"t{rank}": thresholds[rank - 1] for rank in range(1, len(thresholds) + 1)}
    return "CASE " + " ".join(parts) + " ELSE 0 END", params


def _decision_sql(policy: str, reason: str) -> tuple[str, str, str]:
    """SQL of (new rank, new downgrade_due, reason) from e.target, e.cur_rank, e.cur_due."""
    # After orders changed, a move down means money went back (or an order moved to another member).
    reason_sql = (
        "CASE WHEN e.target < e.cur_rank THEN 'refund' ELSE %(reason)s END"
        if (reason == ChangeReason.ORDER)
        else "%(reason)s"
    )
    if policy == DowngradePolicy.NONE:
        return "e.target", "NULL::timestamptz", reason_sql
    if policy == DowngradePolicy.NEVER:
        return "greatest(e.target, e.cur_rank)", "NULL::timestamptz", reason_sql
    due_passed = "(e.cur_due IS NOT NULL AND e.cur_due <= %(now)s)"
    expired = ChangeReason.GRACE_EXPIRED if policy == DowngradePolicy.GRACE else ChangeReason.PERIOD_END
    rank = f"CASE WHEN e.target >= e.cur_rank OR {due_passed} THEN e.target ELSE e.cur_rank END"
    due = (
        f"CASE WHEN e.target >= e.cur_rank OR {due_passed} THEN NULL::timestamptz ELSE coalesce(e.cur_due, %(due)s) END"
    )
    reason_sql = f"CASE WHEN e.target < e.cur_rank AND {due_passed} THEN '{expired.value}' ELSE {reason_sql} END"
    return rank, due, reason_sql


def recalculate_tiers(
    *,
    member_ids=None,
    reason: str = ChangeReason.NIGHTLY,
    actor=None,
    actor_label: str = "",
    note: str = "",
    now: datetime.datetime | None = None,
) -> RecalcResult:
    """Bring tiers up to date for `member_ids` (None: every live member). Merged and erased members
    are skipped. Upgrades happen at once; downgrades follow the ladder's policy. Each move is
    recorded in TierChange with `reason` (a prompt recalculation after orders records a move down
    as "refund"; a move down the policy held back records "grace_expired" / "period_end")."""
    if reason not in ChangeReason.values:
        raise ValueError(f"unknown reason {reason!r}")
    now = now or timezone.now()
    ladder = get_ladder()
    levels = list(ladder.levels.order_by("rank")) if ladder else []
    if not levels:
        return RecalcResult()
    basis = bases.get_basis(ladder.basis)
    if basis is None:
        logger.warning("tier ladder qualifies by %r, which no app provides; nothing recalculated", ladder.basis)
        return RecalcResult()
    if member_ids is not None:
        member_ids = sorted({int(i) for i in member_ids})
        if not member_ids:
            return RecalcResult()
    for_members = member_ids is not None
    if ladder.downgrade_policy == DowngradePolicy.GRACE:
        due = now + datetime.timedelta(days=ladder.grace_days)
    elif ladder.downgrade_policy == DowngradePolicy.PERIOD_END:
        due = next_period_end(now, ladder.period_end_month, ladder.period_end_day)
    else:
        due = None
    rank_sql, due_sql, reason_sql = _decision_sql(ladder.downgrade_policy, reason)
    case_sql, case_params = _levels_case([lv.threshold for lv in levels])
    params = {
        "ids": [lv.pk for lv in levels],
        "names": [lv.name for lv in levels],
        "now": now,
        "since": now - datetime.timedelta(days=ladder.window_days),
        "until": now + datetime.timedelta(days=1),
        "currency": settings.SIYU_CURRENCIES[0],
        "member_ids": member_ids,
        "due": due,
        "reason": reason,
        "actor": getattr(actor, "pk", None) if getattr(actor, "api_key", None) is None else None,
        "label": actor_label or (str(actor.api_key) if getattr(actor, "api_key", None) is not None else ""),
        "note": note[:200],
        **case_params,
    }
    members_filter = "AND m.id = ANY(%(member_ids)s) " if for_members else ""
    # Step 1 (read only, parallel-safe): the live members whose row may change. The level a value
    # earns is worked out once per member with a value (in the aggregate's output), as a level id
    # compared with the stored ids, so the pass over every member costs a few comparisons of plain
    # columns. A row can only change if it is new, its value or earned level moved, its held level
    # is not the earned one, or a floor or a pending downgrade is involved: step 2 decides those
    # few exactly.
    zero_rank = max((rank for rank, lv in enumerate(levels, 1) if lv.threshold <= 0), default=0)
    params["zero_id"] = levels[zero_rank - 1].pk if zero_rank else None
    earned_id_sql = (
        "CASE "
        + " ".join(f"WHEN b.value >= %(t{rank})s THEN {levels[rank - 1].pk}" for rank in range(len(levels), 0, -1))
        + " END"
    )
    select_candidates = f"""
        CREATE TEMP TABLE tier_cand ON COMMIT DROP AS
        SELECT m.id AS member_id, v.value, t.member_id IS NOT NULL AS has_row, t.qualifying_value, t.level_id,
               t.earned_level_id, t.floor_level_id, t.downgrade_due
        FROM members_member m
        LEFT JOIN (SELECT b.member_id, b.value, {earned_id_sql} AS earned_id
                   FROM ({basis.sql(for_members=for_members)}) AS b OFFSET 0) AS v ON v.member_id = m.id
        LEFT JOIN tiers_membertier t ON t.member_id = m.id
        WHERE m.merged_into_id IS NULL AND m.erased_at IS NULL {members_filter}
          AND (t.member_id IS NULL OR t.floor_level_id IS NOT NULL OR t.downgrade_due IS NOT NULL
               OR coalesce(v.value, 0) <> t.qualifying_value
               OR t.level_id IS DISTINCT FROM (CASE WHEN v.member_id IS NULL THEN %(zero_id)s ELSE v.earned_id END)
               OR t.earned_level_id IS DISTINCT FROM
                  (CASE WHEN v.member_id IS NULL THEN %(zero_id)s ELSE v.earned_id END))
    """
    # Step 2 (read only, on the candidates): the members whose row changes, with the new row.
    select_changes = f"""
        CREATE TEMP TABLE tier_recalc ON COMMIT DROP AS
        WITH cand AS (
            SELECT c.member_id, coalesce(c.value, 0)::numeric(14, 2) AS value,
                   c.has_row, c.qualifying_value AS cur_value,
                   coalesce(array_position(%(ids)s::bigint[], c.level_id), 0) AS cur_rank,
                   coalesce(array_position(%(ids)s::bigint[], c.earned_level_id), 0) AS cur_earned,
                   coalesce(array_position(%(ids)s::bigint[], c.floor_level_id), 0) AS floor_rank,
                   c.downgrade_due AS cur_due
            FROM tier_cand c
        ),
        earned AS (SELECT c.*, {case_sql} AS earned_rank FROM cand c),
        e AS (SELECT earned.*, greatest(earned_rank, floor_rank) AS target FROM earned),
        d AS (
            SELECT e.member_id, e.value, e.has_row, e.cur_rank, e.earned_rank, e.cur_value, e.cur_earned, e.cur_due,
                   {rank_sql} AS new_rank, {due_sql} AS new_due, {reason_sql} AS reason
            FROM e
        )
        SELECT d.member_id, d.value, d.cur_rank, d.new_rank, d.earned_rank, d.new_due, d.reason, d.has_row
        FROM d
        WHERE CASE WHEN d.has_row THEN d.new_rank <> d.cur_rank OR d.value <> d.cur_value
                                   OR d.earned_rank <> d.cur_earned OR d.new_due IS DISTINCT FROM d.cur_due
                   ELSE d.new_rank > 0 END
    """
    upsert = """
        INSERT INTO tiers_membertier (member_id, level_id, earned_level_id, floor_level_id, floor_reason,
                                      qualifying_value, since, downgrade_due, computed_at)
        SELECT r.member_id, (%(ids)s::bigint[])[r.new_rank], (%(ids)s::bigint[])[r.earned_rank], NULL, '',
               r.value, %(now)s, r.new_due, %(now)s
        FROM tier_recalc r ORDER BY r.member_id
        ON CONFLICT (member_id) DO UPDATE SET
            level_id = EXCLUDED.level_id, earned_level_id = EXCLUDED.earned_level_id,
            qualifying_value = EXCLUDED.qualifying_value, downgrade_due = EXCLUDED.downgrade_due,
            computed_at = EXCLUDED.computed_at,
            since = CASE WHEN tiers_membertier.level_id IS DISTINCT FROM EXCLUDED.level_id
                         THEN EXCLUDED.since ELSE tiers_membertier.since END
    """
    history = """
        INSERT INTO tiers_tierchange (member_id, from_level_id, to_level_id, from_name, to_name, from_rank, to_rank,
                                      reason, qualifying_value, note, changed_by_id, actor_label, created_at)
        SELECT r.member_id, (%(ids)s::bigint[])[r.cur_rank], (%(ids)s::bigint[])[r.new_rank],
               coalesce((%(names)s::text[])[r.cur_rank], ''), coalesce((%(names)s::text[])[r.new_rank], ''),
               r.cur_rank, r.new_rank, r.reason, r.value, %(note)s, %(actor)s, %(label)s, %(now)s
        FROM tier_recalc r WHERE r.new_rank <> r.cur_rank
        RETURNING member_id, to_rank > from_rank
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        cursor.execute("DROP TABLE IF EXISTS pg_temp.tier_cand, pg_temp.tier_recalc")
        if for_members:
            cursor.execute(select_candidates, params)
        else:
            # Everyone: members and their tiers are read once each in member order through their
            # primary keys and merged with the sorted sums. Hash joins of every member (what the
            # planner picks) cost about as much again as the aggregate and spill past work_mem at
            # ten million members. Measured in tests/bench/tiers_bench.py.
            cursor.execute("SET LOCAL work_mem = '256MB'")
            cursor.execute("SET LOCAL enable_hashjoin = off")
            cursor.execute(select_candidates, params)
            cursor.execute("RESET enable_hashjoin")
        cursor.execute(select_changes, params)
        written = cursor.rowcount
        if written:
            cursor.execute(upsert, params)
            cursor.execute(history, params)
            moves = cursor.fetchall()
        else:
            moves = []
        cursor.execute("DROP TABLE pg_temp.tier_cand, pg_temp.tier_recalc")
    ups = sum(1 for _member, up in moves if up)
    return RecalcResult(
        members_written=max(written, 0),
        upgrades=ups,
        downgrades=len(moves) - ups,
        member_ids_moved=tuple(sorted(m for m, _up in moves)),
    )


# --- manual floor -------------------------------------------------------------------------------------


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
