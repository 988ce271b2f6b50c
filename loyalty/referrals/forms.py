"""Dashboard forms of referrals; the services validate the business rules."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.orders.models import OrderChannel


class CommissionRuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    channel = forms.ChoiceField(
        label=_("Channel"), choices=[("", _("Any channel"))] + list(OrderChannel.choices), required=False
    )
    category = forms.CharField(
        label=_("Product category"), max_length=64, required=False, help_text=_("Empty: any category.")
    )
    # xgettext:no-python-format (a label, not a format string)
    rate = forms.DecimalField(label=_("Rate (% of net)"), min_value=0, max_value=100, decimal_places=2, initial=0)
    fixed_amount = forms.DecimalField(label=_("Fixed amount"), min_value=0, decimal_places=2, initial=0)
    return_window_days = forms.IntegerField(label=_("Return window (days)"), min_value=0, max_value=365, initial=7)
    priority = forms.IntegerField(label=_("Priority"), min_value=-1000, max_value=1000, initial=0)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
