"""Dashboard forms of tiers: the ladder editor (ladder fields and a formset of levels) and the floor."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.tiers.models import DowngradePolicy, TierBasis, TierLadder


class LadderForm(forms.Form):
    name = forms.CharField(label=_("Ladder name"), max_length=64, required=False)
    basis = forms.ChoiceField(label=_("Qualifies by"), choices=TierBasis.choices)
    window_days = forms.IntegerField(
        label=_("Window (days)"), min_value=1, help_text=_("Orders placed in the last N days count, net of refunds.")
    )
    downgrade_policy = forms.ChoiceField(label=_("Downgrade policy"), choices=DowngradePolicy.choices)
    period_end_month = forms.IntegerField(
        label=_("Period ends: month"),
        min_value=1,
        max_value=12,
        help_text=_("For downgrades at the end of the period, e.g. 12 / 31."),
    )
    period_end_day = forms.IntegerField(label=_("Period ends: day"), min_value=1, max_value=31)
    grace_days = forms.IntegerField(
        label=_("Grace (days)"), min_value=1, help_text=_("For downgrades after a grace period.")
    )

    @classmethod
    def initial_for(cls, ladder: TierLadder | None) -> dict:
        if ladder is None:
            return {
                "basis": TierBasis.SPEND,
                "window_days": 365,
                "downgrade_policy": DowngradePolicy.NONE,
                "period_end_month": 12,
                "period_end_day": 31,
                "grace_days": 30,
            }
        return {
            f: getattr(ladder, f)
            for f in (
                "name",
                "basis",
                "window_days",
                "downgrade_policy",
                "period_end_month",
                "period_end_day",
                "grace_days",
            )
        }


class LevelForm(forms.Form):
    id = forms.IntegerField(widget=forms.HiddenInput, required=False)
    rank = forms.IntegerField(label=_("Rank"), min_value=1, max_value=20)
    name = forms.CharField(label=_("Name"), max_length=64)
    threshold = forms.DecimalField(label=_("Threshold"), min_value=0, max_digits=14, decimal_places=2)
    benefits = forms.CharField(label=_("Benefits"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    colour = forms.CharField(
        label=_("Colour"),
        required=False,
        max_length=7,
        widget=forms.TextInput(attrs={"placeholder": "#8b5e3c", "size": 8}),
    )


LevelFormSet = forms.formset_factory(LevelForm, extra=1, can_delete=True, max_num=20, absolute_max=20)


class FloorForm(forms.Form):
    level = forms.TypedChoiceField(label=_("Floor"), coerce=int, required=False, empty_value=None)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def __init__(self, *args, levels, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = [("", _("No floor"))] + [(lv.pk, lv.name) for lv in levels]
