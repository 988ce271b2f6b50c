"""Dashboard forms of orders: a refund, a file import, the attribution policy."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.orders.imports import MAX_BYTES, Mode
from loyalty.orders.models import AttributionPolicy
from scrm.files import encoding_choices


class RefundForm(forms.Form):
    external_id = forms.CharField(label=_("Refund number"), max_length=128)
    amount = forms.DecimalField(label=_("Amount"), max_digits=12, decimal_places=2, min_value=0)
    line = forms.TypedChoiceField(label=_("Line"), coerce=int, empty_value=None, required=False)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)

    def __init__(self, *args, order, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].choices = [("", _("The whole order"))] + [
            (line.pk, f"{line.name} ({line.amount - line.refunded_amount} / {line.amount})")
            for line in order.lines.all()
        ]


class OrderImportForm(forms.Form):
    file = forms.FileField(label=_("File"))
    mode = forms.ChoiceField(label=_("Mode"), choices=Mode.CHOICES, initial=Mode.DRY_RUN, widget=forms.RadioSelect)
    encoding = forms.ChoiceField(
        label=_("Encoding of a CSV"),
        required=False,
        initial="",
        choices=[("", _("Detect it (a file that is unclear is refused, never guessed)")), *encoding_choices()],
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(mb)d MB; split it or use the API.") % {"mb": MAX_BYTES >> 20}
            )
        return upload


class AttributionPolicyForm(forms.ModelForm):
    class Meta:
        model = AttributionPolicy
        fields = ["rule", "window_days"]
        widgets = {"rule": forms.RadioSelect}
