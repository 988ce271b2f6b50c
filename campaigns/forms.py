"""Dashboard forms of campaigns: a draft's fields and the send policy. They only read input; the
rules (personal fields, channel limits, schedule, caps) are the services', whose InvalidInput details
are put back under the fields (`add_service_errors`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from campaigns import channels, content
from campaigns.edit_forms import RecurrenceFields, form_field
from campaigns.models import WecomLimit
from members.segments.models import Segment
from scrm.models import Store
from scrm.scoping import access_for, scope

NOW, LATER = "now", "later"


class CampaignForm(RecurrenceFields):
    name = forms.CharField(label=_("Name"), max_length=100)
    store = forms.ModelChoiceField(label=_("Store"), queryset=Store.objects.none(), required=False,
                                   empty_label=_("Brand-wide"),
                                   help_text=_("Empty: a brand-wide campaign to a brand-wide segment."))
    segment = forms.ModelChoiceField(label=_("Segment"), queryset=Segment.objects.none())
    channel = forms.ChoiceField(label=_("Channel"), choices=())
    content = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 5}))
    schedule = forms.ChoiceField(label=_("When"), initial=NOW,
                                 choices=[(NOW, _("When it is sent")), (LATER, _("At a time"))])
    scheduled_at = forms.DateTimeField(label=_("Send at"), required=False,
                                       widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                                  format="%Y-%m-%dT%H:%M"))
    holdout_share = forms.DecimalField(label=_("Holdout share"), min_value=Decimal(0), max_value=Decimal("0.5"),
                                       max_digits=3, decimal_places=2, initial=Decimal(0),
                                       help_text=_("Share of the segment kept out at random, to measure the "
                                                   "campaign against (0 to 0.5)."))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if access_for(user).all_stores:
            self.fields["store"].queryset = scope(Store.objects.order_by("name"), user)
        else:
            del self.fields["store"]  # a store's campaign: the service sets the user's store
        self.fields["segment"].queryset = scope(Segment.objects.select_related("store").order_by("name"), user)
        self.fields["segment"].label_from_instance = (
            lambda s: f"{s.name} ({s.store.name if s.store else _('Brand-wide')})"
        )
        self.fields["channel"].choices = channels.choices()
        self.fields["content"].help_text = _("Personal fields: %(fields)s") % {
            "fields": ", ".join("{" + field + "}" for field in content.FIELDS)}
        self.fields["content"].widget.attrs.update({"aria-describedby": "id_content-help", "data-byte-count": ""})

    def clean(self):
        data = super().clean()
        if data.get("schedule") == LATER and not data.get("scheduled_at"):
            self.add_error("scheduled_at", _("Choose when to send it."))
        if data.get("schedule") == NOW:
            data["scheduled_at"] = None
        return data

    def add_service_errors(self, exc) -> None:
        for field, errors in (exc.details or {}).items():
            field = form_field(field)  # a recurrence's error under its field
            for error in errors:
                self.add_error(field if field in self.fields else None, str(error))
        if not exc.details:
            self.add_error(None, exc.message)


class SendPolicyForm(forms.Form):
    daily_cap = forms.IntegerField(label=_("Messages per day"), min_value=0, max_value=1000,
                                   help_text=_("Per calendar day; 0 for no cap."))
    weekly_cap = forms.IntegerField(label=_("Messages per week"), min_value=0, max_value=1000,
                                    help_text=_("Per 7 calendar days ending today; 0 for no cap."))
    monthly_cap = forms.IntegerField(label=_("Messages per month"), min_value=0, max_value=1000,
                                     help_text=_("Per 30 calendar days ending today; 0 for no cap."))
    quiet_start = forms.TimeField(label=_("Quiet hours start"), required=False,
                                  widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                                  help_text=_("Local time; empty with the end for no quiet hours."))
    quiet_end = forms.TimeField(label=_("Quiet hours end"), required=False,
                                widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                                help_text=_("May be past midnight, e.g. 22:00 to 08:00."))
    max_attempts = forms.IntegerField(label=_("Attempts per delivery"), min_value=1)
    wecom_limit = forms.ChoiceField(label=_("WeCom's per-customer limit"), choices=WecomLimit.choices,
                                    help_text=_("Match the rule set in WeCom (Customer mass messages → rules): "
                                                "WeCom mass messages to a customer past it are suppressed "
                                                "instead of being given to staff."), required=False)

    add_service_errors = CampaignForm.add_service_errors

    def clean(self):
        data = super().clean()
        if not data.get("wecom_limit"):
            data.pop("wecom_limit", None)  # not sent: the policy keeps its mode
        return data


class SeasonForm(forms.Form):
    """A season's dates (month and day, both included; an end before the start wraps the year end)
    and its caps, which replace the send policy's on its days."""

    name = forms.CharField(label=_("Name"), max_length=60)
    start_month = forms.TypedChoiceField(label=_("Starts in"), coerce=int, choices=())
    start_day = forms.IntegerField(label=_("Start day"), min_value=1, max_value=31)
    end_month = forms.TypedChoiceField(label=_("Ends in"), coerce=int, choices=())
    end_day = forms.IntegerField(label=_("End day"), min_value=1, max_value=31,
                                 help_text=_("Included. Ending before the start wraps the year end."))
    daily_cap = forms.IntegerField(label=_("Messages per day"), min_value=0, max_value=1000, initial=1,
                                   help_text=_("Per calendar day; 0 for no cap."))
    weekly_cap = forms.IntegerField(label=_("Messages per week"), min_value=0, max_value=1000, initial=3,
                                    help_text=_("Per 7 calendar days ending that day; 0 for no cap."))
    monthly_cap = forms.IntegerField(label=_("Messages per month"), min_value=0, max_value=1000, initial=8,
                                     help_text=_("Per 30 calendar days ending that day; 0 for no cap."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        months = [(n, date_format(dt.date(2000, n, 1), "F")) for n in range(1, 13)]  # in the reader's language
        self.fields["start_month"].choices = months
        self.fields["end_month"].choices = months

    add_service_errors = CampaignForm.add_service_errors
