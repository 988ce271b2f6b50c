"""Dashboard forms: upload an import, choose an export's format and columns."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from members.io import exports, services
from members.io.models import ImportMode
from scrm import files


class ImportForm(forms.Form):
    file = forms.FileField(label=_("File"))
    mode = forms.ChoiceField(label=_("Mode"), choices=ImportMode.choices, initial=ImportMode.DRY_RUN,
                             widget=forms.RadioSelect)
    encoding = forms.ChoiceField(
        label=_("Encoding of a CSV"), required=False, initial="",
        choices=[("", _("Detect it (a file that is unclear is refused, never guessed)")), *files.encoding_choices()],
        help_text=_("Choose it when the check cannot tell it: what Excel calls the file's encoding when saving."),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > services.max_bytes():
            raise forms.ValidationError(services.too_large_message(upload.size))
        return upload


class ExportForm(forms.Form):
    format = forms.ChoiceField(label=_("Format"), choices=[("csv", "CSV"), ("xlsx", "Excel (.xlsx)")],
                               initial="csv", widget=forms.RadioSelect)
    columns = forms.MultipleChoiceField(label=_("Columns"), widget=forms.CheckboxSelectMultiple,
                                        initial=exports.DEFAULT_COLUMNS)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["columns"].choices = [(key, f"{label} ({key})") for key, label in exports.available_columns(actor)]
