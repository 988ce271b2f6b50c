"""The segment definitions the cockpit's figures count, from the member centre's filters and those
insights registers (insights/segments.py). A figure and its drill-down are the same definition."""

from __future__ import annotations

import datetime

from insights.cockpit.base import Period
from insights.segments import ANY_CHANNEL


def _day(day: datetime.date) -> str:
    return day.isoformat()


def joined(period: Period) -> dict:
    return {"field": "joined", "op": "between", "value": [_day(period.start), _day(period.end)]}


def joined_by(day: datetime.date) -> dict:
    """Joined on `day` or before: the pool as it stood at the end of that day."""
    return {"field": "joined", "op": "before", "value": _day(day + datetime.timedelta(days=1))}


def source(key: str) -> dict:
    return {"field": "source", "op": "in", "value": [key]}


def joined_via(state: str) -> dict:
    return {"field": "joined_via", "op": "in", "value": [state]}


def home_store(store_id: int | None) -> dict:
    if store_id is None:
        return {"field": "home_store", "op": "is_null", "value": True}
    return {"field": "home_store", "op": "in", "value": [store_id]}


def stage(key: str) -> dict:
    return {"field": "stage", "op": "in", "value": [key]}


def moved_into(period: Period, key: str) -> dict:
    return {"field": "stage_moved", "op": "between", "value": [_day(period.start), _day(period.end), key]}


def bought(period: Period, channel: str = ANY_CHANNEL) -> dict:
    return {"field": "bought", "op": "between", "value": [_day(period.start), _day(period.end), channel]}


def orders_at_least(period: Period, n: int) -> dict:
    return {"field": "orders_between", "op": "at_least", "value": [_day(period.start), _day(period.end), n]}


def did(period: Period, kind: str) -> dict:
    return {"field": "did", "op": "between", "value": [_day(period.start), _day(period.end), str(kind)]}


def campaign_part(campaign_id: int, part: str) -> dict:
    return {"field": "campaign_part", "op": "in", "value": [str(campaign_id), part]}


def bought_by(day: datetime.date) -> dict:
    """Had bought by the end of `day`."""
    return {"field": "bought_by", "op": "before", "value": _day(day + datetime.timedelta(days=1))}


def not_bought_by(day: datetime.date) -> dict:
    return {"field": "not_bought_by", "op": "before", "value": _day(day + datetime.timedelta(days=1))}


def campaigns_part(period: Period, part: str, campaigns: str) -> dict:
    """Members in `part` of the campaigns started in the period (`campaigns`: "all", "brand+<store
    id>" or "store:<store id>", the campaigns the cockpit sums)."""
    return {"field": "campaigns_part", "op": "in", "value": [_day(period.start), _day(period.end), part, campaigns]}
