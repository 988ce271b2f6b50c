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
    """A new API key: a name, the scopes (Read / Write per resource, or a preset role), an optional
    store binding and expiry. The service decides what a binding may hold; its refusals come back
    as errors on the fields they name."""

    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("What the key is for, e.g. POS sync."))
    preset = forms.ChoiceField(
        label=_("Start from a role"), required=False,
        help_text=_("Ticks the scopes such an integration needs; adjust them below."),
    )
    scopes = forms.MultipleChoiceField(
        label=_("Scopes"), widget=forms.CheckboxSelectMultiple, choices=(), required=False
    )
    store = forms.ModelChoiceField(
        label=_("Limited to store"), queryset=Store.objects.filter(is_active=True), required=False,
        empty_label=_("All stores (brand-wide)"),
        help_text=_("A key limited to one store reaches only that store's data and cannot change brand-wide "
                    "settings. It stops working when the store is closed."),
    )
    expires_in_days = forms.IntegerField(
        label=_("Expires in (days)"), min_value=1, max_value=3650, required=False,
        help_text=_("Leave empty for a key that does not expire."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.presets = scope_registry.presets()
        self.fields["preset"].choices = [("", _("None: choose scopes below"))] + [
            (key, label) for key, label, _scopes in self.presets
        ]
        self.fields["scopes"].choices = [(scope, scope) for scope in scope_registry.all_scopes()]

    def scope_rows(self) -> list[dict]:
        """One row per resource: its translated label and its Read and Write checkboxes."""
        boxes = {widget.data["value"]: widget for widget in self["scopes"]}
        return [
            {
                "name": res.name,
                "label": res.label,
                "read": boxes.get(res.read_scope),
                "write": boxes.get(res.write_scope),
                "brand_setting": res.brand_setting,
                "sensitive": res.read_scope in scope_registry.SENSITIVE_READS,
            }
            for res in scope_registry.resources().values()
        ]

    def clean(self):
        data = super().clean()
        scopes = set(data.get("scopes") or [])
        preset = data.get("preset")
        if preset:
            scopes |= set(next(scopes for key, _label, scopes in self.presets if key == preset))
        if not scopes and not self.has_error("scopes"):
            self.add_error("scopes", _("Choose at least one scope, or start from a role."))
        data["scopes"] = sorted(scopes)
        return data

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
