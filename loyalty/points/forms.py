"""Dashboard forms of points: the rewards catalogue and the policy. They only parse the fields;
the services check the rules (and are what the API calls too)."""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.points.models import PointsPolicy, Reward
from loyalty.points.services import REWARD_FIELDS

DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class RewardForm(forms.ModelForm):
    image_url = forms.URLField(label=_("Image address"), required=False, assume_scheme="https")

    class Meta:
        model = Reward
        fields = list(REWARD_FIELDS)
        widgets = {"starts_at": DATETIME, "ends_at": DATETIME, "description": forms.Textarea(attrs={"rows": 3})}


class JSONMapField(forms.CharField):
    """A {name: number} map typed as `name = number` lines (or JSON)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if isinstance(value, dict):
            return "\n".join(f"{k} = {v}" for k, v in value.items())
        return value

    def to_python(self, value):
        text = (value or "").strip()
        if not text:
            return {}
        if text.startswith("{"):
            try:
                return json.loads(text)
            except ValueError:
                raise forms.ValidationError(_("Not valid JSON.")) from None
        result = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            if "=" not in line:
                raise forms.ValidationError(_("Line %(n)s: write name = number.") % {"n": number})
            key, _sep, val = line.rpartition("=")
            result[key.strip()] = val.strip()
        return result


class PolicyForm(forms.ModelForm):
    currency_rates = JSONMapField(
        label=_("Other currencies"), required=False, help_text=PointsPolicy._meta.get_field("currency_rates").help_text
    )
    tier_multipliers = JSONMapField(
        label=_("Multiplier per tier rank"),
        required=False,
        help_text=_("One per line: rank = multiplier, e.g. 4 = 1.5"),
    )
    category_multipliers = JSONMapField(
        label=_("Multiplier per product category"),
        required=False,
        help_text=_("One per line: category = multiplier, e.g. milk powder = 2"),
    )

    class Meta:
        model = PointsPolicy
        fields = [
            "enabled",
            "points_per_unit",
            "birthday_multiplier",
            "tier_multipliers",
            "category_multipliers",
            "currency_rates",
            "expiry_mode",
            "expiry_days",
            "expiry_years",
            "point_value",
        ]
