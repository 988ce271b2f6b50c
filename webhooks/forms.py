"""Dashboard forms of subscriptions. They read and shape the input only; every rule (the URL, the
types a key may hear, a store-bound key's store) is the services' and comes back as an error on the
field it names (`apply_errors`)."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scrm.models import ApiKey, Store
from webhooks import queries
from webhooks.models import Subscription


class IntegrationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{obj.name} ({obj.store.code})" if obj.store_id else f"{obj.name}"


class GroupedTypesField(forms.MultipleChoiceField):
    """Event types as checkboxes grouped by the resource whose read scope hears them."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(choices=self._choices, **kwargs)

    @staticmethod
    def _choices():
        return [(group, items) for group, items in queries.type_groups()]


class SubscriptionForm(forms.Form):
    api_key = IntegrationChoiceField(label=_("Integration"), queryset=ApiKey.objects.none(),
                                     help_text=_("The API key whose scopes decide what it may hear."))
    name = forms.CharField(label=_("Name"), max_length=100)
    url = forms.CharField(label=_("URL"), max_length=500, widget=forms.URLInput(attrs={"inputmode": "url"}),
                          help_text=_("Where the deliveries are posted (https:// in production)."))
    event_types = GroupedTypesField(label=_("Event types"))
    store = forms.ModelChoiceField(label=_("Limited to store"), queryset=Store.objects.none(), required=False,
                                   help_text=_("Empty: every store the integration reaches."))

    def __init__(self, *args, subscription: Subscription | None = None, **kwargs):
        if subscription is not None:
            kwargs.setdefault("initial", {"api_key": subscription.api_key_id, "name": subscription.name,
                                          "url": subscription.url, "event_types": subscription.event_types,
                                          "store": subscription.store_id})
        super().__init__(*args, **kwargs)
        now = timezone.now()
        self.fields["api_key"].queryset = (
            ApiKey.objects.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)
            .select_related("store").order_by("name", "id"))
        self.fields["store"].queryset = Store.objects.filter(is_active=True).order_by("name")
        if subscription is not None:
            self.fields["api_key"].disabled = True  # a subscription stays its integration's


def apply_errors(form, details: dict) -> None:
    """A service's field errors onto the form (a field the form lacks: on top)."""
    for name, problems in (details or {}).items():
        if name not in form.fields and name in ("unknown", "scopes"):
            continue  # machine-readable companions of the event_types message
        problems = problems if isinstance(problems, list | tuple) else [problems]
        form.add_error(name if name in form.fields else None, [str(p) for p in problems])
