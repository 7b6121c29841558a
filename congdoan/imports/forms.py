from django import forms
from django.utils.translation import gettext_lazy as _

from congdoan.organizations.models import Unit


class ImportUploadForm(forms.Form):
    """The unit comes first so it is read before the file (an over-large upload stops at the file)."""

    unit = forms.ModelChoiceField(label=_("Import into"), queryset=Unit.objects.none(), empty_label=None,
                                  help_text=_("Every member in the file must belong to this unit or a unit below it."))
    file = forms.FileField(label=_("Member file (.xlsx or .csv)"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv"}))

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units if units is not None else Unit.objects.none()
        if units is not None and len(units) == 1:
            self.fields["unit"].widget = forms.HiddenInput()
            self.fields["unit"].initial = units[0].pk
