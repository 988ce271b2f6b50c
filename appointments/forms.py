"""The services form of the dashboard: it only validates field shapes; the rules are the services'."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from appointments.models import Service
from appointments.services.catalogue import SERVICE_FIELDS
from scrm.models import Store
from scrm.scoping import scope


class ServiceForm(forms.ModelForm):
    store = forms.ModelChoiceField(queryset=Store.objects.none(), required=False, label=_("Store"),
                                   empty_label=_("Every store (brand-wide)"), to_field_name="code")

    class Meta:
        model = Service
        fields = ["store", *SERVICE_FIELDS]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = scope(Store.objects.filter(is_active=True), user).order_by("code")
        if self.instance.pk:
            del self.fields["store"]
        elif getattr(user, "store_id", None):
            self.fields["store"].initial = user.store
            self.fields["store"].required = True

    def add_service_error(self, exc) -> None:
        placed = False
        for field, problems in (exc.details or {}).items():
            if field in self.fields:
                for problem in problems if isinstance(problems, list) else [problems]:
                    self.add_error(field, str(problem))
                placed = True
        if not placed:
            self.add_error(None, exc.message)

    def _post_clean(self):
        """The services check and save the row; the form does not touch the instance."""
