"""Dashboard forms of a recurring campaign's rule (the campaign form's "Repeatedly" choice) and of a
test send to staff. They only read input; campaigns.services.recurrence and .test_sends rule."""

from __future__ import annotations

from django import forms
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, Repeat
from campaigns.services import recurrence

REPEAT = "repeat"  # the campaign form's `schedule` choice for a series
RECURRENCE_FIELDS = ["repeat", "repeat_weekdays", "repeat_day", "repeat_time", "repeat_start", "repeat_until",
                     "repeat_count"]
# The service's "recurrence.<name>" error keys -> the form's fields.
SERVICE_FIELDS = {"frequency": "repeat", "weekdays": "repeat_weekdays", "day": "repeat_day", "time": "repeat_time",
                  "start": "repeat_start", "until": "repeat_until", "count": "repeat_count"}


def form_field(service_field: str) -> str:
    if not service_field.startswith("recurrence"):
        return service_field
    return SERVICE_FIELDS.get(service_field.removeprefix("recurrence."), "repeat")


class RecurrenceFields(forms.Form):
    """The rule's fields, shown after the schedule; used when `schedule` is "Repeatedly"."""

    repeat = forms.ChoiceField(label=_("Repeats"), required=False, choices=[("", "—"), *Repeat.choices],
                               help_text=_("For a recurring campaign: each time is a run of its own."))
    repeat_weekdays = forms.TypedMultipleChoiceField(
        label=_("On weekdays"), required=False, coerce=int, choices=list(WEEKDAYS.items()),
        widget=forms.CheckboxSelectMultiple, help_text=_("Every week: the days it is sent on."))
    repeat_day = forms.IntegerField(label=_("On day of the month"), required=False, min_value=1, max_value=31,
                                    help_text=_("Every month: 1 to 31; a shorter month sends on its last day."))
    repeat_time = forms.TimeField(label=_("At time"), required=False,
                                  widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    repeat_start = forms.DateField(label=_("From"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                                   help_text=_("The first day; empty: today."))
    repeat_until = forms.DateField(label=_("Until"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                                   help_text=_("The last day; empty: no end date."))
    repeat_count = forms.IntegerField(label=_("Runs at most"), required=False, min_value=1, max_value=10_000,
                                      help_text=_("Empty: no limit."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "schedule" in self.fields:
            self.fields["schedule"].choices = [*self.fields["schedule"].choices, (REPEAT, _("Repeatedly"))]
        self.order_fields([n for n in self.fields if n not in RECURRENCE_FIELDS] + RECURRENCE_FIELDS)
        self.fields["repeat_time"].help_text = _("In the brand's time zone (%(zone)s).") % {
            "zone": recurrence.zone().key}

    def clean(self):
        data = super().clean()
        data["recurrence"] = None
        if data.get("schedule") != REPEAT:
            return data
        data["scheduled_at"] = None
        if not data.get("repeat"):
            self.add_error("repeat", _("Choose how often it repeats."))
        if not data.get("repeat_time"):
            self.add_error("repeat_time", _("Choose the time of day it is sent at."))
        if self.errors:
            return data
        data["recurrence"] = recurrence.Rule(
            frequency=data["repeat"], time=data["repeat_time"], start=data.get("repeat_start") or recurrence.today(),
            weekdays=tuple(sorted(set(data.get("repeat_weekdays") or []))), day=data.get("repeat_day"),
            until=data.get("repeat_until"), count=data.get("repeat_count"))
        return data


def initial_of(campaign: Campaign) -> dict:
    """The campaign form's values for editing `campaign`."""
    from campaigns.forms import LATER, NOW

    initial = {"name": campaign.name, "segment": campaign.segment_id, "channel": campaign.channel,
               "content": campaign.content, "holdout_share": campaign.holdout_share,
               "scheduled_at": campaign.scheduled_at,
               "schedule": REPEAT if campaign.repeat else LATER if campaign.scheduled_at else NOW}
    if campaign.repeat:
        initial |= {"repeat": campaign.repeat, "repeat_weekdays": list(campaign.repeat_weekdays),
                    "repeat_day": campaign.repeat_day, "repeat_time": campaign.repeat_time,
                    "repeat_start": campaign.repeat_start, "repeat_until": campaign.repeat_until,
                    "repeat_count": campaign.repeat_count}
    return initial


class TestSendForm(forms.Form):
    recipients = forms.ModelMultipleChoiceField(label=_("Staff members"), queryset=None,
                                                widget=forms.CheckboxSelectMultiple)
    sample_member = forms.IntegerField(label=_("Sample member id"), required=False, min_value=1,
                                       help_text=_("Their name, tier and points fill the personal fields; empty: "
                                                   "placeholder values."))

    def __init__(self, *args, staff, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["recipients"].queryset = staff
        self.fields["recipients"].label_from_instance = lambda u: f"{u} ({u.username})"
