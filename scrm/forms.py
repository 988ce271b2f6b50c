"""Dashboard forms of the organisation."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scrm import permissions as scope_registry
from scrm.models import STORE_ROLES, Role, Store, User
from scrm.services.staff import can_manage


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


class StaffForm(forms.Form):
    username = forms.RegexField(
        label=_("Username"), max_length=150, regex=r"^[\w.@+-]+$",
        help_text=_("Letters, digits and @ . + - _ only; used to log in."),
    )
    display_name = forms.CharField(label=_("Display name"), max_length=64, required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.STORE_STAFF)
    store = forms.ModelChoiceField(label=_("Store"), queryset=Store.objects.filter(is_active=True), required=False)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.actor = actor
        if actor.role != Role.OPERATOR:
            self.fields["role"].choices = [(Role.STORE_STAFF, Role.STORE_STAFF.label)]
            self.fields["store"].queryset = Store.objects.filter(pk=actor.store_id)
            self.fields["store"].initial = actor.store_id

    def clean_username(self):
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("This username is taken."))
        return username

    def clean(self):
        data = super().clean()
        role, store = data.get("role"), data.get("store")
        if role in STORE_ROLES and store is None:
            self.add_error("store", _("Store managers and store staff must belong to a store."))
        elif role and not can_manage(actor=self.actor, role=role, store_id=store.pk if store else None):
            raise forms.ValidationError(_("You cannot create this kind of account."))
        return data
