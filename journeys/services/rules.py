"""The daily rules that turn data into staff tasks, each one INSERT ... SELECT in the brand's time zone
(settings.TIME_ZONE), with ON CONFLICT (dedupe_key) DO NOTHING so a re-run creates nothing new:

- birthday: live members whose birthday is today (those born on 29 February on the 28th in common years);
- welcome: members who joined yesterday;
- repurchase due: per RepurchaseCycle, members whose last order in the category was `days` ago (with a
  week's grace for a missed run) and who have not ordered anything since;
- dormant: members whose last order was the policy's `dormant_days` ago (same grace), none since;
- confirm today's WeCom sends: staff whose WeCom mass-message tasks wait for them to send.

Each kind's priority is the brand's (TaskPolicy, set at /tasks/settings/), read once per run.
Only live members with marketing consent on WeCom get a task (members.services.consent.messageable).
The member's owner takes it when active staff of the member's store, else the store's pool. The
candidates are selected with the ORM (so the members' and orders' tables are named by their apps) and
inserted by one statement per rule."""

from __future__ import annotations

import calendar
import datetime as dt
import json

from django.db import connection, transaction
from django.db.models import CharField, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat, TruncDate
from django.utils import timezone

from campaigns.models import WecomMassTask, WecomTaskState
from journeys.models import RepurchaseCycle, TaskKind, TaskPolicy
from journeys.services.tasks import CONSENT_CHANNEL, INSERT_COLUMNS
from journeys.sql import TASK
from loyalty.orders.models import Order, OrderLine, OrderStatus
from members.models import Member
from members.services import consent
from scrm.actors import SystemActor
from scrm.sql import USER

RULE_ACTOR = SystemActor("rule:tasks")
GRACE_DAYS = 7  # a rule that did not run for a few days still finds the members it missed


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _due(day: dt.date) -> dt.datetime:
    """Day tasks are due by the end of the brand's day."""
    return _day_start(day + dt.timedelta(days=1)) - dt.timedelta(seconds=1)


def _reachable_members() -> QuerySet:
    return consent.messageable(Member.objects.filter(home_store__isnull=False), CONSENT_CHANNEL)


def _text(expression) -> Cast:
    return Cast(expression, CharField())


def _insert(kind: str, candidates: QuerySet, *, due_at: dt.datetime, priority: int) -> int:
    """Insert a task per candidate row (columns t_member, t_store, t_owner, t_key, t_params)."""
    select, params = candidates.values("t_member", "t_store", "t_owner", "t_key", "t_params").query.sql_with_params()
    sql = (
        f"INSERT INTO {TASK} ({INSERT_COLUMNS}) "
        "SELECT %s, c.t_member, c.t_store, u.id, %s, c.t_params::jsonb, '', '', %s, %s, 'open', '', '', 'rule', "
        f"c.t_key, %s, NULL, %s, '' FROM ({select}) AS c "
        f"LEFT JOIN {USER} u ON u.id = c.t_owner AND u.is_active AND u.store_id = c.t_store "
        "AND u.role IN ('store_manager', 'store_staff') "
        "ON CONFLICT (dedupe_key) DO NOTHING"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [kind, kind, due_at, priority, timezone.now(), RULE_ACTOR.label, *params])
        return cursor.rowcount


def _member_columns(members: QuerySet, key: Concat, payload: dict | None = None) -> QuerySet:
    return members.annotate(t_member=F("id"), t_store=F("home_store_id"), t_owner=F("owner_id"), t_key=key,
                            t_params=Value(json.dumps(payload or {}, ensure_ascii=False)))


def _policy(policy: TaskPolicy | None) -> TaskPolicy:
    return policy if policy is not None else TaskPolicy.current()


def birthdays(*, today: dt.date, policy: TaskPolicy | None = None) -> int:
    born = Q(birthday__month=today.month, birthday__day=today.day)
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        born |= Q(birthday__month=2, birthday__day=29)
    key = Concat(Value(f"birthday:{today.year}:"), _text("id"))
    return _insert(TaskKind.BIRTHDAY, _member_columns(_reachable_members().filter(born), key),
                   due_at=_due(today), priority=_policy(policy).priority_for(TaskKind.BIRTHDAY))


def welcomes(*, today: dt.date, policy: TaskPolicy | None = None) -> int:
    yesterday = today - dt.timedelta(days=1)
    joined = _reachable_members().filter(created_at__gte=_day_start(yesterday), created_at__lt=_day_start(today))
    key = Concat(Value("welcome:"), _text("id"))
    return _insert(TaskKind.WELCOME, _member_columns(joined, key), due_at=_due(today),
                   priority=_policy(policy).priority_for(TaskKind.WELCOME))


def _last_orders(*, today: dt.date, days: int) -> QuerySet:
    """Orders that are their member's last (none placed after), placed `days` ago (or up to a week before)."""
    counted = Order.objects.exclude(status=OrderStatus.REFUNDED)
    later = counted.filter(member_id=OuterRef("member_id"), placed_at__gt=OuterRef("placed_at"))
    return (counted.filter(member_id__in=_reachable_members().values("pk"),
                           placed_at__gte=_day_start(today - dt.timedelta(days=days + GRACE_DAYS - 1)),
                           placed_at__lt=_day_start(today - dt.timedelta(days=days - 1)))
            .filter(~Exists(later)))


def _order_columns(orders: QuerySet, prefix: str, payload: dict) -> QuerySet:
    key = Concat(Value(prefix), _text("member_id"), Value(":"), _text(TruncDate("placed_at")))
    return orders.annotate(t_member=F("member_id"), t_store=F("member__home_store_id"),
                           t_owner=F("member__owner_id"), t_key=key,
                           t_params=Value(json.dumps(payload, ensure_ascii=False)))


def repurchases(*, today: dt.date, policy: TaskPolicy | None = None) -> int:
    made = 0
    priority = _policy(policy).priority_for(TaskKind.REPURCHASE_DUE)
    for cycle in RepurchaseCycle.objects.order_by("pk"):
        in_category = OrderLine.objects.filter(order_id=OuterRef("pk"), category=cycle.category)
        orders = _last_orders(today=today, days=cycle.days).filter(Exists(in_category))
        made += _insert(TaskKind.REPURCHASE_DUE,
                        _order_columns(orders, f"repurchase:{cycle.pk}:",
                                       {"category": cycle.category, "days": cycle.days}),
                        due_at=_due(today), priority=priority)
    return made


def dormant(*, today: dt.date, policy: TaskPolicy) -> int:
    days = policy.dormant_days
    return _insert(TaskKind.DORMANT, _order_columns(_last_orders(today=today, days=days), "dormant:",
                                                    {"days": days}),
                   due_at=_due(today), priority=policy.priority_for(TaskKind.DORMANT))


def wecom_sends(*, today: dt.date, policy: TaskPolicy | None = None) -> int:
    """One store-level task a day per staff member whose WeCom mass messages wait for them."""
    waiting = WecomMassTask.objects.filter(state=WecomTaskState.CREATED, confirmed_at__isnull=True,
                                           finished_at__isnull=True, cancelled_at__isnull=True,
                                           staff__isnull=False, store__isnull=False)
    select, params = waiting.annotate(t_staff=F("staff_id"), t_store=F("store_id")).values(
        "t_staff", "t_store").query.sql_with_params()
    sql = (
        f"INSERT INTO {TASK} ({INSERT_COLUMNS}) "
        "SELECT %s, NULL, c.t_store, u.id, %s, jsonb_build_object('count', count(*)), '', '', %s, %s, 'open', '', "
        f"'', 'rule', %s || c.t_staff, %s, NULL, %s, '' FROM ({select}) AS c "
        f"LEFT JOIN {USER} u ON u.id = c.t_staff AND u.is_active AND u.store_id = c.t_store "
        "AND u.role IN ('store_manager', 'store_staff') "
        "GROUP BY c.t_staff, c.t_store, u.id ON CONFLICT (dedupe_key) DO NOTHING"
    )
    kind = TaskKind.CONFIRM_WECOM_SEND
    priority = _policy(policy).priority_for(kind)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [kind, kind, _due(today), priority, f"{kind}:{today.isoformat()}:",
                             timezone.now(), RULE_ACTOR.label, *params])
        return cursor.rowcount


def run_daily(*, today: dt.date | None = None) -> dict[str, int]:
    """Every rule for the brand's `today` (its local date now when not given), then expiry."""
    from journeys.services import tasks

    today = today or timezone.localdate()
    policy = TaskPolicy.current()
    made = {
        "birthday": birthdays(today=today, policy=policy),
        "welcome": welcomes(today=today, policy=policy),
        "repurchase_due": repurchases(today=today, policy=policy),
        "dormant": dormant(today=today, policy=policy),
        "confirm_wecom_send": wecom_sends(today=today, policy=policy),
    }
    made["expired"] = tasks.expire_overdue(days=policy.expire_after_days)
    return made
