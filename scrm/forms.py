"""Dashboard forms of the organisation."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scrm.api import scopes as scope_registry
from scrm.models import Store


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("What the key is for, e.g. POS sync."))
    scopes = forms.MultipleChoiceField(label=_("Scopes"), widget=forms.CheckboxSelectMultiple, choices=())
    store = forms.ModelChoiceField(
        label=_("Limited to store"), queryset=Store.objects.filter(is_active=True), required=False,
        empty_label=_("All stores"),
    )
    expires_in_days = forms.IntegerField(
        label=_("Expires in (days)"), min_value=1, max_value=3650, required=False,
        help_text=_("Leave empty for a key that does not expire."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        labels = {name: label for name, (label, _level) in scope_registry.resources().items()}
        self.fields["scopes"].choices = [
            (scope, f"{labels.get(scope.split(':')[0], scope)} · {scope.split(':')[1]}")
            for scope in scope_registry.all_scopes()
        ]

    def expires_at(self):
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + timedelta(days=days) if days else None
