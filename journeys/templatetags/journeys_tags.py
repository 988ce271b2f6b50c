"""Template helpers of the staff task screens."""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag
def staff_for(staff: dict, store_id: int) -> list:
    """The staff a task of `store_id` may be given to (the view found them in one query)."""
    return staff.get(store_id, [])


@register.filter
def actable(task, user) -> bool:
    """Whether `user` may tap Done or Skip on `task` (the services' rule)."""
    from journeys.services.tasks import can_act

    return can_act(user, task)


@register.filter
def get_item(mapping, key):
    """mapping[key], or an empty dict (a journey step's errors by row)."""
    return (mapping or {}).get(key, {})
