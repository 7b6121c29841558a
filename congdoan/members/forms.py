from django import forms
from django.utils.translation import gettext_lazy as _

from congdoan.members.choices import AgeBand, EventKind, Gender, MemberStatus
from congdoan.members.models import Member
from congdoan.organizations.choices import EmployerType
from congdoan.organizations.models import Unit

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MEMBER_FIELDS = ["full_name", "date_of_birth", "gender", "citizen_id", "ethnicity", "religion", "education_level",
                 "qualification", "phone", "email", "occupation", "union_position", "joined_on"]


class MemberForm(forms.ModelForm):
    class Meta:
        model = Member
        fields = MEMBER_FIELDS
        widgets = {"date_of_birth": DATE, "joined_on": DATE}

    def _post_clean(self):
        # validation lives in members.services.validate_member
        pass


class AdmitForm(MemberForm):
    unit = forms.ModelChoiceField(label=_("Unit"), queryset=Unit.objects.none())
    code = forms.CharField(label=_("Member code"), required=False, max_length=20,
                           help_text=_("Leave empty to generate one."))

    class Meta(MemberForm.Meta):
        fields = ["unit", "code", *MEMBER_FIELDS]

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units if units is not None else Unit.objects.none()


class MemberFilterForm(forms.Form):
    q = forms.CharField(label=_("Name, citizen ID, code or phone"), required=False)
    gender = forms.ChoiceField(label=_("Gender"), required=False, choices=[("", _("All")), *Gender.choices])
    age_band = forms.ChoiceField(label=_("Age"), required=False, choices=[("", _("All")), *AgeBand.choices])
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All")), *MemberStatus.choices])
    employer_type = forms.ChoiceField(label=_("Employer type"), required=False, choices=[("", _("All")), *EmployerType.choices])
    unit = forms.IntegerField(required=False, widget=forms.HiddenInput)


class TransferForm(forms.Form):
    """The receiving unit is named by its code: units outside the official's scope are never listed."""

    to_unit = forms.CharField(label=_("Code of the receiving unit"), max_length=32)
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)

    def clean_to_unit(self):
        code = self.cleaned_data["to_unit"].strip().upper()
        unit = Unit.objects.filter(code=code).first()
        if unit is None:
            raise forms.ValidationError(_("No unit has the code “%(code)s”."), params={"code": code})
        return unit


class StatusForm(forms.Form):
    kind = forms.ChoiceField(label=_("Change"), choices=[
        (EventKind.SUSPENSION, _("Suspend")), (EventKind.REINSTATEMENT, _("Reinstate")),
        (EventKind.LEAVING, _("Leaves the union")), (EventKind.DEATH, _("Deceased")),
    ])
    on_date = forms.DateField(label=_("Date"), widget=DATE)
    reason = forms.CharField(label=_("Reason"), max_length=255, required=False)


class AccountForm(forms.Form):
    password = forms.CharField(label=_("First password"), widget=forms.PasswordInput, min_length=8)
