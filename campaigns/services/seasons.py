"""Seasons: named stretches of every year (Valentine's, Christmas) whose frequency caps replace the
send policy's while the day in settings.TIME_ZONE falls in one. Ranges go by month and day, both
ends included, and may wrap the year end; two seasons never share a day (29 February counts, so a
season ending 28 February and one starting 29 February do not overlap, and the latter starts on
1 March in other years). Operators and brand-wide keys change them; every store reads them."""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import formats
from django.utils.translation import gettext as _

from campaigns.models import Season
from campaigns.services.policy import RESOURCE
from scrm.errors import InvalidInput
from scrm.permissions import require_write

FIELDS = ("name", "start_month", "start_day", "end_month", "end_day", "daily_cap", "weekly_cap", "monthly_cap")
CAPS = ("daily_cap", "weekly_cap", "monthly_cap")
MAX_CAP = 1000
LEAP_YEAR = 2000  # a year with every month-day a season may name
SEASON = Season._meta.db_table


def _date(month: int, day: int) -> dt.date:
    return dt.date(LEAP_YEAR, month, day)


def days_of(season: Season) -> set[int]:
    """The season's days as day-of-year numbers of a leap year (1 to 366)."""
    start = _date(season.start_month, season.start_day).timetuple().tm_yday
    end = _date(season.end_month, season.end_day).timetuple().tm_yday
    if start <= end:
        return set(range(start, end + 1))
    return set(range(start, 367)) | set(range(1, end + 1))


def span_text(season: Season) -> str:
    """"15 December – 6 January" in the reader's language (month and day only)."""
    def one(month, day):
        return formats.date_format(_date(month, day), "MONTH_DAY_FORMAT")

    return f"{one(season.start_month, season.start_day)} – {one(season.end_month, season.end_day)}"


def season_on(day: dt.date, seasons: list[Season] | None = None) -> Season | None:
    """The season `day` falls in, if any (seasons never overlap, so there is at most one)."""
    for season in Season.objects.all() if seasons is None else seasons:
        if season.contains(day):
            return season
    return None


def _errors(season: Season) -> dict[str, list]:
    errors: dict[str, list] = {}
    season.name = (season.name or "").strip()
    if not season.name:
        errors["name"] = [_("Give the season a name.")]
    elif len(season.name) > Season._meta.get_field("name").max_length:
        errors["name"] = [_("At most %(max)d characters.") % {"max": Season._meta.get_field("name").max_length}]
    for end in ("start", "end"):
        month, day = getattr(season, f"{end}_month"), getattr(season, f"{end}_day")
        if not isinstance(month, int) or not 1 <= month <= 12:
            errors[f"{end}_month"] = [_("A month from 1 to 12.")]
            continue
        try:
            _date(month, day)
        except (TypeError, ValueError):
            errors[f"{end}_day"] = [_("Month %(month)d has no day %(day)s.") % {"month": month, "day": day}]
    for name in CAPS:
        value = getattr(season, name)
        if not isinstance(value, int) or not 0 <= value <= MAX_CAP:
            errors[name] = [_("From 0 (no cap) to %(max)d.") % {"max": MAX_CAP}]
    if not any(name in errors for name in CAPS):
        caps = [(name, getattr(season, name)) for name in CAPS]
        for (small, low), (big, high) in zip(caps, caps[1:], strict=False):
            if low and high and low > high:
                errors[small] = [_("%(small)s cannot be above %(big)s.") % {
                    "small": Season._meta.get_field(small).verbose_name,
                    "big": Season._meta.get_field(big).verbose_name}]
    return errors


@transaction.atomic
def save_season(*, actor, values: dict, season: Season | None = None) -> Season:
    """Create a season (no `season`) or change some of its fields; everything is checked first and
    on any error nothing changes. A season overlapping another is refused, naming it."""
    require_write(actor, RESOURCE)
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise InvalidInput(details={name: [_("Unknown field.")] for name in unknown})
    if season is None:
        missing = [name for name in FIELDS if name not in values and name not in CAPS]
        if missing:
            raise InvalidInput(details={name: [_("This field is required.")] for name in missing})
        season = Season()
    else:
        season = Season.objects.select_for_update().get(pk=season.pk)
    for name, value in values.items():
        setattr(season, name, value)
    errors = _errors(season)
    if errors:
        raise InvalidInput(details=errors)
    # One writer at a time, so two overlapping seasons saved at once cannot both pass the check
    # (readers, the sending engine among them, are not blocked).
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {SEASON} IN SHARE ROW EXCLUSIVE MODE")
    if Season.objects.filter(name__iexact=season.name).exclude(pk=season.pk).exists():
        raise InvalidInput(details={"name": [_("Another season is called %(name)s.") % {"name": season.name}]})
    days = days_of(season)
    for other in Season.objects.exclude(pk=season.pk):
        if days & days_of(other):
            raise InvalidInput(details={"non_field_errors": [
                _("These dates overlap the season %(name)s (%(span)s): seasons cannot share a day.")
                % {"name": other.name, "span": span_text(other)}]})
    season.save()
    return season


@transaction.atomic
def delete_season(*, actor, season: Season) -> None:
    require_write(actor, RESOURCE)
    Season.objects.filter(pk=season.pk).delete()
