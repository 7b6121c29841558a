"""Forms of the finance pages: they parse what people type (percentages, amounts written the Vietnamese
way, months mm/yyyy); the services check the rules."""

from decimal import Decimal, InvalidOperation

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from congdoan.finance.choices import (
    BANK_BINS, EXEMPT_KINDS, SHARE_KINDS, SHARE_LEVELS, VALUE_UNIT, ReliefKind, RuleKind, ValueUnit,
)
from congdoan.organizations.choices import EmployerType, Level
from congdoan.organizations.models import Unit
from congdoan.payments.forms import AmountField, DateInput, MonthField
from congdoan.payments.parsers import AmountError, parse_amount


def percent_to_bp(text) -> int:
    """"2", "0,5", "0.5 %" → basis points (200, 50, 50); at most two decimals."""
    cleaned = str(text or "").replace("%", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(cleaned) * 100
    except InvalidOperation as exc:
        raise forms.ValidationError(_("Write a percentage, e.g. 2 or 0,5."), code="percent_invalid") from exc
    if value != value.to_integral_value() or value < 0 or value > 10_000:
        raise forms.ValidationError(_("Write a percentage between 0 and 100 with at most two decimals."), code="percent_invalid")
    return int(value)


class PercentField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 6}))
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        return None if value in self.empty_values else percent_to_bp(value)


class RuleForm(forms.Form):
    """A new version of one rule. The value is a percentage for rates, caps and floors, đồng for the
    base salary, and 1/0 for exemptions."""

    kind = forms.ChoiceField(label=_("Rule"), choices=[(k, label) for k, label in RuleKind.choices if k not in SHARE_KINDS])
    employer_type = forms.ChoiceField(label=_("Employer type (exemptions)"), choices=[("", "—"), *EmployerType.choices], required=False)
    value = forms.CharField(label=_("Value"), max_length=32,
                            help_text=_("A percentage for rates (2 or 0,5), đồng for the base salary, 1 or 0 for an exemption."))
    valid_from = forms.DateField(label=_("In force from"), widget=DateInput())
    legal_basis = forms.CharField(label=_("Legal basis"), max_length=255)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def clean(self):
        data = super().clean()
        kind, raw = data.get("kind"), data.get("value")
        if kind and raw is not None:
            try:
                unit = VALUE_UNIT[kind]
                if unit == ValueUnit.BASIS_POINTS:
                    data["value"] = percent_to_bp(raw)
                elif unit == ValueUnit.DONG:
                    data["value"] = AmountField().clean(raw)
                else:
                    if raw.strip() not in ("0", "1"):
                        raise forms.ValidationError(_("Write 1 (exempt) or 0 (not exempt)."), code="value_invalid")
                    data["value"] = int(raw.strip())
            except forms.ValidationError as exc:
                self.add_error("value", exc)
        if kind not in EXEMPT_KINDS:
            data["employer_type"] = ""
        return data


class SharesForm(forms.Form):
    """The shares of one source kept by each level, in percent, adding up to 100."""

    kind = forms.ChoiceField(label=_("Shares of"), choices=[(k, label) for k, label in RuleKind.choices if k in SHARE_KINDS])
    valid_from = forms.DateField(label=_("In force from"), widget=DateInput())
    legal_basis = forms.CharField(label=_("Legal basis"), max_length=255)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for level in SHARE_LEVELS:
            self.fields[f"share_{level}"] = PercentField(label=Level(level).label, required=False)

    def shares(self) -> dict:
        return {level: self.cleaned_data.get(f"share_{level}") or 0 for level in SHARE_LEVELS}


class DeclarationForm(forms.Form):
    unit = forms.ModelChoiceField(label=_("Employer (grassroots union)"), queryset=Unit.objects.none())
    month = MonthField(label=_("Month"))
    si_salary_fund = AmountField(label=_("Social-insurance salary fund (đồng)"),
                                 widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 16}))
    workers = forms.IntegerField(label=_("Workers on social insurance"), min_value=0, required=False)

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units if units is not None else Unit.objects.none()


class DeclarationFilterForm(forms.Form):
    month = MonthField(label=_("Month"), required=False)
    q = forms.CharField(label=_("Employer"), required=False, max_length=100)


class DeclarationImportForm(forms.Form):
    file = forms.FileField(label=_("Excel workbook (.xlsx)"), widget=forms.ClearableFileInput(attrs={"accept": ".xlsx"}))


class MonthForm(forms.Form):
    month = MonthField(label=_("Month"), required=False)


class AsOfForm(forms.Form):
    on = forms.DateField(label=_("Balances at the end of"), required=False, widget=DateInput())


class _ReversalForm(forms.Form):
    date = forms.DateField(label=_("Date of the reversal"), required=False, widget=DateInput(),
                           help_text=_("Empty: today. It must fall in an open month."))
    memo = forms.CharField(label=_("Why"), max_length=255, required=False)


class ReverseForm(_ReversalForm):
    transaction = forms.IntegerField(widget=forms.HiddenInput())


class ReceiptReverseForm(_ReversalForm):
    receipt = forms.IntegerField(widget=forms.HiddenInput())


class CloseForm(forms.Form):
    month = forms.TypedChoiceField(label=_("Close up to and including"), coerce=str, choices=())

    def __init__(self, *args, months=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["month"].choices = [(m.isoformat(), m.strftime("%m/%Y")) for m in months]


class CollectionAccountForm(forms.Form):
    unit = forms.ModelChoiceField(label=_("Unit"), queryset=Unit.objects.none())
    bank_bin = forms.ChoiceField(label=_("Bank"), choices=[(b, f"{name} ({b})") for b, name in BANK_BINS])
    account_number = forms.CharField(label=_("Account number"), max_length=30)
    account_name = forms.CharField(label=_("Account holder"), max_length=100)

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units if units is not None else Unit.objects.none()


class ReliefForm(forms.Form):
    unit = forms.ModelChoiceField(label=_("Employer (grassroots union)"), queryset=Unit.objects.none())
    kind = forms.ChoiceField(label=_("Kind"), choices=ReliefKind.choices)
    first_month = MonthField(label=_("First month"))
    last_month = MonthField(label=_("Last month"))
    reduction = PercentField(label=_("Reduction (%)"), required=False, help_text=_("For a reduction only."))
    decision = forms.CharField(label=_("Decision"), max_length=255)

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units if units is not None else Unit.objects.none()


# -- members' dues --------------------------------------------------------------------------------------------
class MemberSalaryForm(forms.Form):
    """A member's social-insurance salary from a month on (the base of his dues): "1.234.567" reads as 1234567."""

    valid_from = MonthField(label=_("From month"))
    salary = forms.CharField(label=_("Social-insurance salary (đồng)"), max_length=32,
                             widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 14}))

    def clean_salary(self):
        from congdoan.finance.importing import SALARY_MESSAGES

        try:
            salary = parse_amount(self.cleaned_data["salary"])
            if salary is None:
                raise AmountError("amount_missing")
        except AmountError as exc:
            raise forms.ValidationError(SALARY_MESSAGES[exc.code](), code=exc.code) from exc
        return salary

    def clean_valid_from(self):
        month = self.cleaned_data["valid_from"]
        if month and month > timezone.localdate().replace(day=1):
            raise forms.ValidationError(_("This month has not begun: a salary is recorded from a month that has."),
                                        code="month_future")
        return month


class DuesExemptionForm(forms.Form):
    first_month = MonthField(label=_("First month"))
    last_month = MonthField(label=_("Last month"), required=False, help_text=_("Empty: until further notice."))
    reason = forms.CharField(label=_("Reason"), max_length=255,
                             help_text=_("E.g. unpaid leave, long illness, maternity leave, no work."))


class DuesExemptionEndForm(forms.Form):
    """Ends one exemption earlier; the page gives each exemption its own prefix (``end-<id>``)."""

    last_month = MonthField(label=_("Last exempt month"), help_text=_("The member owes dues again from the month after."))
    reason = forms.CharField(label=_("Why it ends"), max_length=255, required=False, help_text=_("E.g. back at work."))


class MemberDuesFilterForm(forms.Form):
    unit = forms.IntegerField(required=False, widget=forms.HiddenInput())
    q = forms.CharField(label=_("Name or member code"), required=False, max_length=100)


class YearForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100, required=False)


class SalaryImportForm(forms.Form):
    file = forms.FileField(label=_("Excel workbook (.xlsx)"), widget=forms.ClearableFileInput(attrs={"accept": ".xlsx"}))
