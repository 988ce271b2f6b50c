"""The brand's task settings, edited from the dashboard: product categories' repurchase cycles (a
member whose last order in the category is that many days old gets a repurchase task) and the task
policy (the Today list's daily cap per clerk, when a member is dormant, how long an overdue task stays
open, how long after a done task its orders count) with the priority of each kind of task the rules
and the system make (a change holds for tasks made from then on; open tasks keep theirs).

Brand settings: operators (and brand-wide keys) change them; store roles read them. Every value is
checked before anything is written and each error names its field."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from journeys.models import PRIORITY_FIELDS, RULE_KINDS, RepurchaseCycle, TaskKind, TaskPolicy, TaskPriority
from scrm import permissions
from scrm.errors import InvalidInput
from scrm.models import Role

RESOURCE = "task_settings"
CATEGORY_MAX = RepurchaseCycle._meta.get_field("category").max_length
DAYS = (1, 730)
POLICY_LIMITS = {  # field -> (lowest, highest): the model's validators, said once for the form and the checks
    "daily_cap": (1, 500),
    "dormant_days": (7, 1095),
    "expire_after_days": (1, 90),
    "orders_window_days": (1, 90),
}
POLICY_FIELDS = tuple(POLICY_LIMITS)
# The priorities by name, as the page's selects and any caller spell them.
PRIORITY_NAMES = {TaskPriority.HIGH: "high", TaskPriority.NORMAL: "normal", TaskPriority.LOW: "low"}
PRIORITY_VALUES = {name: value for value, name in PRIORITY_NAMES.items()}


def can_read(actor) -> bool:
    """Operators and store managers (the page); clerks have their Today list, not the settings."""
    return permissions.is_brand_wide(actor) or getattr(actor, "role", None) == Role.STORE_MANAGER


def can_change(actor) -> bool:
    return permissions.can_write(actor, RESOURCE)


def _whole(value, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return _("A whole number from %(low)d to %(high)d.") % {"low": low, "high": high}
    return None


def _category(value, errors: dict, *, cycle: RepurchaseCycle | None) -> str:
    text = (value or "").strip() if isinstance(value, str) else None
    if not text:
        errors["category"] = [_("Name the category as the order lines name it.")]
    elif len(text) > CATEGORY_MAX:
        errors["category"] = [_("At most %(max)d characters.") % {"max": CATEGORY_MAX}]
    elif RepurchaseCycle.objects.filter(category=text).exclude(pk=getattr(cycle, "pk", None)).exists():
        errors["category"] = [_("%(category)s already has a cycle.") % {"category": text}]
    return text or ""


def save_cycle(*, actor, category, days, cycle: RepurchaseCycle | None = None) -> RepurchaseCycle:
    """Add a category's cycle (`cycle` None) or change one; InvalidInput naming the field."""
    permissions.require_write(actor, RESOURCE)
    errors: dict[str, list] = {}
    text = _category(category, errors, cycle=cycle)
    problem = _whole(days, *DAYS)
    if problem:
        errors["days"] = [problem]
    if errors:
        raise InvalidInput(details=errors)
    try:
        with transaction.atomic():
            if cycle is None:
                return RepurchaseCycle.objects.create(category=text, days=days)
            RepurchaseCycle.objects.filter(pk=cycle.pk).update(category=text, days=days)
    except IntegrityError:  # the same category added at the same moment
        raise InvalidInput(details={"category": [_("%(category)s already has a cycle.") % {"category": text}]}) \
            from None
    cycle.refresh_from_db()
    return cycle


def delete_cycle(*, actor, cycle: RepurchaseCycle) -> None:
    """No more repurchase tasks for the category; the tasks it made stay."""
    permissions.require_write(actor, RESOURCE)
    RepurchaseCycle.objects.filter(pk=cycle.pk).delete()


@transaction.atomic
def update_policy(*, actor, values: dict) -> TaskPolicy:
    """Change some of the policy's fields; all are checked first and on any error nothing changes."""
    permissions.require_write(actor, RESOURCE)
    errors: dict[str, list] = {name: [_("Unknown field.")] for name in sorted(set(values) - set(POLICY_FIELDS))}
    for name, value in values.items():
        if name in POLICY_LIMITS and (problem := _whole(value, *POLICY_LIMITS[name])):
            errors[name] = [problem]
    if errors:
        raise InvalidInput(details=errors)
    TaskPolicy.current()
    policy = TaskPolicy.objects.select_for_update().get(pk=1)
    for name, value in values.items():
        setattr(policy, name, value)
    policy.save(update_fields=list(values) or None)
    return policy


def priorities(policy: TaskPolicy) -> dict[str, str]:
    """Each rule kind's priority by name, in the page's order."""
    return {kind: PRIORITY_NAMES[policy.priority_for(kind)] for kind in RULE_KINDS}


@transaction.atomic
def update_priorities(*, actor, values: dict) -> TaskPolicy:
    """Change the priority of some rule kinds ({"birthday": "low"}): every key must be one of RULE_KINDS
    and every value high, normal or low; on any error nothing changes. Tasks made from then on take the
    new priority; open tasks keep the one they were made with."""
    permissions.require_write(actor, RESOURCE)
    errors: dict[str, list] = {}
    for kind, name in values.items():
        if kind not in RULE_KINDS:
            errors[str(kind)] = [_("%(value)s is not a kind of task the rules make: one of %(choices)s.")
                                 % {"value": kind, "choices": ", ".join(RULE_KINDS)}]
        elif not isinstance(name, str) or name not in PRIORITY_VALUES:
            errors[kind] = [_("%(kind)s: the priority is one of %(choices)s.")
                            % {"kind": TaskKind(kind).label, "choices": ", ".join(PRIORITY_VALUES)}]
    if errors:
        raise InvalidInput(details=errors)
    TaskPolicy.current()
    policy = TaskPolicy.objects.select_for_update().get(pk=1)
    for kind, name in values.items():
        setattr(policy, PRIORITY_FIELDS[kind], PRIORITY_VALUES[name])
    if values:
        policy.save(update_fields=[PRIORITY_FIELDS[kind] for kind in values])
    return policy
