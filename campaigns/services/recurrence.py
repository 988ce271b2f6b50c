"""Recurring campaigns: a series (a campaign with `repeat` set) never sends itself; each occurrence
becomes a run, a child campaign (`parent`, `occurrence_at`) with the series' text and channel, which
snapshots the segment when it starts, so each run reaches that day's members once and has its own
deliveries and results.

Occurrences are local times in settings.TIME_ZONE: every day, every week on chosen weekdays, or every
month on a day (a shorter month: its last day), at a time of day, from a start date until an optional
end date and/or a number of runs. The tick (campaigns.services.sending.tick) creates due runs with a
conditional UPDATE that moves the series' `next_occurrence_at` on: of several ticks at once exactly
one sees the occurrence it read and creates the run (and the unique (parent, occurrence_at) would
refuse a second). A late tick creates the run of the occurrence it missed and moves the series to
the first occurrence after now: missed days are not sent in a burst."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign, CampaignStatus, Repeat
from scrm.errors import InvalidInput

S = CampaignStatus
HORIZON_DAYS = 800  # far enough for any rule to have its next occurrence (a monthly one: 31 days)
WEEKDAYS = range(7)  # 0 Monday .. 6 Sunday, as datetime.date.weekday()


@dataclass(frozen=True)
class Rule:
    frequency: str  # a Repeat value
    time: dt.time
    start: dt.date
    weekdays: tuple[int, ...] = ()
    day: int | None = None
    until: dt.date | None = None
    count: int | None = None

    @classmethod
    def of(cls, campaign: Campaign) -> Rule:
        return cls(frequency=campaign.repeat, time=campaign.repeat_time, start=campaign.repeat_start,
                   weekdays=tuple(campaign.repeat_weekdays or ()), day=campaign.repeat_day,
                   until=campaign.repeat_until, count=campaign.repeat_count)

    def fields(self) -> dict:
        """The campaign's fields holding this rule."""
        return {"repeat": self.frequency, "repeat_time": self.time, "repeat_start": self.start,
                "repeat_weekdays": sorted(self.weekdays), "repeat_day": self.day, "repeat_until": self.until,
                "repeat_count": self.count}


NO_RULE = {"repeat": "", "repeat_time": None, "repeat_start": None, "repeat_weekdays": [], "repeat_day": None,
           "repeat_until": None, "repeat_count": None}


def zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def validate(rule: Rule, *, today: dt.date) -> None:
    """InvalidInput naming each field of the rule that is wrong."""
    errors: dict[str, list] = {}
    if not rule.frequency:
        errors["frequency"] = [_("Choose how often it repeats: %(known)s.") % {"known": ", ".join(Repeat.values)}]
    elif rule.frequency not in Repeat.values:
        errors["frequency"] = [_("Unknown frequency %(value)s; known: %(known)s.")
                               % {"value": rule.frequency, "known": ", ".join(Repeat.values)}]
    if rule.frequency == Repeat.WEEKLY and not rule.weekdays:
        errors["weekdays"] = [_("Choose at least one weekday for a weekly campaign.")]
    elif any(d not in WEEKDAYS for d in rule.weekdays):
        errors["weekdays"] = [_("Weekdays are 0 (Monday) to 6 (Sunday).")]
    if rule.frequency == Repeat.MONTHLY and rule.day is None:
        errors["day"] = [_("Choose the day of the month (1 to 31) for a monthly campaign.")]
    elif rule.day is not None and not 1 <= rule.day <= 31:
        errors["day"] = [_("The day of the month is 1 to 31.")]
    if rule.time is None:
        errors["time"] = [_("Choose the time of day it is sent at.")]
    if rule.start is None:
        errors["start"] = [_("Choose the first day.")]
    elif rule.start < today:
        errors["start"] = [_("The first day is in the past.")]
    if rule.until is not None and rule.start is not None and rule.until < rule.start:
        errors["until"] = [_("The last day is before the first.")]
    if rule.count is not None and rule.count < 1:
        errors["count"] = [_("The number of runs is at least 1.")]
    if errors:
        raise InvalidInput(details={f"recurrence.{name}": messages for name, messages in errors.items()})


def _on(rule: Rule, day: dt.date) -> bool:
    if rule.frequency == Repeat.DAILY:
        return True
    if rule.frequency == Repeat.WEEKLY:
        return day.weekday() in rule.weekdays
    last = calendar.monthrange(day.year, day.month)[1]
    return day.day == min(rule.day, last)


def _at(day: dt.date, time: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The local time as an aware UTC instant (a time a DST change skips is read as after it)."""
    local = dt.datetime.combine(day, time, tzinfo=tz)
    return local.astimezone(dt.UTC).astimezone(tz).astimezone(dt.UTC)


def next_after(rule: Rule, moment: dt.datetime, *, done: int = 0, tz: ZoneInfo | None = None) -> dt.datetime | None:
    """The rule's first occurrence strictly after `moment` (aware), or None when the series is over
    (past its last day, or `done` runs already made of `count`)."""
    tz = tz or zone()
    if rule.count is not None and done >= rule.count:
        return None
    day = max(rule.start, moment.astimezone(tz).date())
    for _n in range(HORIZON_DAYS):
        if rule.until is not None and day > rule.until:
            return None
        if _on(rule, day):
            at = _at(day, rule.time, tz)
            if at > moment:
                return at
        day += dt.timedelta(days=1)
    return None


def occurrences(rule: Rule, *, after: dt.datetime, limit: int, tz: ZoneInfo | None = None) -> list[dt.datetime]:
    """The next `limit` occurrences after `after` (for the page's preview and the tests)."""
    found: list[dt.datetime] = []
    moment = after
    while len(found) < limit:
        at = next_after(rule, moment, done=len(found), tz=tz)
        if at is None:
            break
        found.append(at)
        moment = at
    return found


# --- the series' lifecycle (called from campaigns.services.campaigns in the caller's transaction) ---


def start_series(campaign: Campaign, now: dt.datetime) -> None:
    """An approved series starts: it waits for its first occurrence (none left: refused)."""
    first = next_after(Rule.of(campaign), now - dt.timedelta(minutes=1), done=campaign.runs_created)
    if first is None:
        raise InvalidInput(details={"recurrence": [_("The series has no occurrence left: its last day is past.")]})
    campaign.status, campaign.next_occurrence_at, campaign.last_error = S.SCHEDULED, first, ""
    campaign.save(update_fields=["status", "next_occurrence_at", "last_error", "updated_at"])


def resume_series(campaign: Campaign, now: dt.datetime) -> None:
    """A paused series goes on from its first occurrence after now (the ones missed while paused are
    not made up); with none left it is done."""
    following = next_after(Rule.of(campaign), now, done=campaign.runs_created)
    if following is None:
        campaign.status, campaign.finished_at, campaign.next_occurrence_at = S.DONE, now, None
    else:
        campaign.status, campaign.next_occurrence_at = S.SCHEDULED, following
    campaign.save(update_fields=["status", "finished_at", "next_occurrence_at", "updated_at"])


# Fields a run copies from its series; one another feature adds (attachments) is copied when present.
COPIED = ("store_id", "segment_id", "channel", "content", "holdout_share", "created_by_id", "created_by_label",
          "approved_by_id", "approved_by_label")
OPTIONAL_COPIED = ("attachments",)


def _run_name(series: Campaign, occurrence: dt.datetime) -> str:
    stamp = occurrence.astimezone(zone()).strftime("%Y-%m-%d %H:%M")
    return f"{series.name[: 100 - len(stamp) - 3]} · {stamp}"


def create_due_run(*, series_id: int, occurrence: dt.datetime, now: dt.datetime) -> Campaign | None:
    """Create the run of `occurrence` if this caller is the one that moves the series past it (a
    conditional UPDATE: of callers racing for it, one gets a row); the run, or None for the others.
    The run is scheduled for its occurrence and started by the same tick (start_due)."""
    with transaction.atomic():
        series = Campaign.objects.filter(pk=series_id).first()
        if series is None or not series.repeat:
            return None
        rule = Rule.of(series)
        following = next_after(rule, max(occurrence, now), done=series.runs_created + 1)
        moved = Campaign.objects.filter(
            pk=series_id, status=S.SCHEDULED, next_occurrence_at=occurrence,
        ).update(next_occurrence_at=following, runs_created=series.runs_created + 1, updated_at=now,
                 **({"status": S.DONE, "finished_at": now} if following is None else {}))
        if moved != 1:
            return None  # another tick took it, or the series was paused or cancelled meanwhile
        values = {field: getattr(series, field) for field in COPIED}
        values |= {field: getattr(series, field) for field in OPTIONAL_COPIED if hasattr(series, field)}
        try:
            with transaction.atomic():
                return Campaign.objects.create(
                    **values, name=_run_name(series, occurrence), parent=series, occurrence_at=occurrence,
                    status=S.SCHEDULED, scheduled_at=occurrence,
                )
        except IntegrityError:  # the run exists (the series' row was edited back by hand): nothing twice
            return None


def create_due_runs(*, now: dt.datetime) -> int:
    """The tick's part: a run for every active series whose next occurrence has come."""
    due = (Campaign.objects.filter(status=S.SCHEDULED, next_occurrence_at__lte=now)
           .exclude(repeat="").values_list("pk", "next_occurrence_at"))
    return sum(1 for pk, occurrence in list(due)
               if create_due_run(series_id=pk, occurrence=occurrence, now=now) is not None)


def runs_of(series: Campaign):
    return Campaign.objects.filter(parent=series).order_by("-occurrence_at")


def describe(campaign: Campaign) -> str:
    """The rule in words, for the campaign's page."""
    if not campaign.repeat:
        return ""
    time = campaign.repeat_time.strftime("%H:%M") if campaign.repeat_time else ""
    if campaign.repeat == Repeat.DAILY:
        text = _("Every day at %(time)s") % {"time": time}
    elif campaign.repeat == Repeat.WEEKLY:
        names = [str(WEEKDAY_NAMES[d]) for d in sorted(campaign.repeat_weekdays or ())]
        text = _("Every week on %(days)s at %(time)s") % {"days": ", ".join(names), "time": time}
    else:
        text = _("Every month on day %(day)s at %(time)s (a shorter month: its last day)") % {
            "day": campaign.repeat_day, "time": time}
    text += " · " + _("from %(start)s") % {"start": campaign.repeat_start}
    if campaign.repeat_until:
        text += " " + _("until %(until)s") % {"until": campaign.repeat_until}
    if campaign.repeat_count:
        text += " · " + _("at most %(count)s runs") % {"count": campaign.repeat_count}
    return text + f" ({settings.TIME_ZONE})"


def _weekday_names():
    from django.utils.dates import WEEKDAYS as names  # 0 Monday, lazily translated

    return names


WEEKDAY_NAMES = _weekday_names()


def today() -> dt.date:
    return timezone.localtime(timezone.now(), zone()).date()
