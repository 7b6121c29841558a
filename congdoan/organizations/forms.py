from django import forms
from django.utils.translation import gettext_lazy as _

from congdoan.organizations.choices import UnitStatus, EmployerType, Level
from congdoan.organizations.models import Unit

UNIT_FIELDS = ["code", "name", "kind", "employer_type", "employer_name", "employer_tax_code",
               "worker_count", "address", "province", "founded_on"]


class UnitForm(forms.ModelForm):
    class Meta:
        model = Unit
        fields = ["level", *UNIT_FIELDS]
        widgets = {"founded_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, allowed_levels=None, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            del self.fields["level"]
        elif allowed_levels is not None:
            self.fields["level"].choices = [(lvl, Level(lvl).label) for lvl in allowed_levels]
        self.fields["employer_type"].help_text = _("For grassroots unions only.")

    def _post_clean(self):
        # validation belongs to the service (one rule, one place); keep the form to parsing
        pass


class UnitPickForm(forms.Form):
    """Choose another unit in the user's scope (move under it, merge into it)."""

    target = forms.ModelChoiceField(label=_("Unit"), queryset=Unit.objects.none())

    def __init__(self, *args, units=None, label=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = units if units is not None else Unit.objects.none()
        if label:
            self.fields["target"].label = label


class DissolveForm(forms.Form):
    on_date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)


class UnitFilterForm(forms.Form):
    q = forms.CharField(label=_("Name or code"), required=False)
    level = forms.ChoiceField(label=_("Level"), required=False, choices=[("", _("All levels")), *Level.choices])
    employer_type = forms.ChoiceField(label=_("Employer type"), required=False, choices=[("", _("All")), *EmployerType.choices])
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All")), *UnitStatus.choices])
    #: restrict the search to the subtree of one unit (a link from the dashboard); checked against the scope
    unit = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
