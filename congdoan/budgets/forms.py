"""Forms of budgets and spending. They read what people type; the rules are in services."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from congdoan.budgets.choices import ExpenseStatus, PaidFrom
from congdoan.budgets.models import Category
from congdoan.payments.parsers import AmountError, parse_amount

#: day first, as Vietnamese write it, or ISO as <input type=date> sends it; never month first
DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y"]

AMOUNT_MESSAGES = {
    "amount_invalid": _("This is not an amount of money. Write it as 1.234.567 or 1234567."),
    "amount_fraction": _("An amount in đồng has no decimals."),
    "amount_negative": _("The amount is negative: it must be greater than zero."),
    "amount_zero": _("The amount is zero: it must be greater than zero."),
}


class AmountField(forms.CharField):
    """Integer đồng written the Vietnamese way ("1.234.567", "1 234 567 đ"); zero only where allowed."""

    def __init__(self, *, allow_zero: bool = False, **kwargs):
        self.allow_zero = allow_zero
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "numeric", "size": 14, "autocomplete": "off"}))
        super().__init__(**kwargs)

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        if self.allow_zero and value.strip().strip("đ").strip() in ("0", "-"):
            return 0
        try:
            return parse_amount(value)
        except AmountError as exc:
            if exc.code == "amount_zero" and self.allow_zero:
                return 0
            raise forms.ValidationError(AMOUNT_MESSAGES.get(exc.code, AMOUNT_MESSAGES["amount_invalid"]), code=exc.code) from exc


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class BudgetCreateForm(forms.Form):
    unit = forms.ModelChoiceField(label=_("Unit"), queryset=None, empty_label=None)
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    note = forms.CharField(label=_("Note"), max_length=500, required=False)

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units
        self.fields["year"].initial = timezone.localdate().year


class BudgetLinesForm(forms.Form):
    """One amount per spending category in use; an empty box plans nothing (0)."""

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.categories = list(categories)
        for category in self.categories:
            self.fields[f"category_{category.pk}"] = AmountField(label=category.label, required=False, allow_zero=True)

    def rows(self):
        return [(category, self[f"category_{category.pk}"]) for category in self.categories]

    def amounts(self) -> dict:
        return {category.pk: self.cleaned_data.get(f"category_{category.pk}") or 0 for category in self.categories}


class ExpenseForm(forms.Form):
    unit = forms.ModelChoiceField(label=_("Unit"), queryset=None, empty_label=None)
    category = forms.ModelChoiceField(label=_("Spending category"), queryset=Category.objects.filter(is_active=True), empty_label=None)
    amount = AmountField(label=_("Amount (đồng)"))
    spent_on = forms.DateField(label=_("Date spent"), input_formats=DATE_FORMATS, widget=DateInput())
    description = forms.CharField(label=_("What for"), max_length=500)
    payee = forms.CharField(label=_("Paid to"), max_length=200, required=False)
    paid_from = forms.ChoiceField(label=_("Paid by"), choices=PaidFrom.choices, initial=PaidFrom.BANK)
    document_number = forms.CharField(label=_("Document number"), max_length=64,
                                      help_text=_("The payment voucher (phiếu chi) or invoice number."))
    document_date = forms.DateField(label=_("Document date"), input_formats=DATE_FORMATS, widget=DateInput())
    document = forms.FileField(label=_("Supporting document"), help_text=_("PDF, JPEG or PNG photo, Word (.docx) or Excel (.xlsx)."),
                               widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png,.docx,.xlsx"}))

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units
        self.fields["category"].label_from_instance = lambda c: c.label


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Why is it cancelled?"), max_length=500)


class RevisionForm(forms.Form):
    note = forms.CharField(label=_("Why is it revised?"), max_length=500, required=False)


class ExpenseFilterForm(forms.Form):
    unit = forms.IntegerField(required=False, widget=forms.HiddenInput())
    year = forms.IntegerField(label=_("Budget year"), required=False, min_value=2000, max_value=2100)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("All")), *ExpenseStatus.choices])
    category = forms.ModelChoiceField(label=_("Spending category"), required=False, queryset=Category.objects.all(),
                                      empty_label=_("All categories"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].label_from_instance = lambda c: c.label


class ReportForm(forms.Form):
    """Which unit, year and extent a report covers (read from the query string; bad values fall back)."""

    unit = forms.IntegerField(required=False, widget=forms.HiddenInput())
    year = forms.IntegerField(label=_("Year"), required=False, min_value=2000, max_value=2100)
    only_unit = forms.BooleanField(label=_("This unit only, without the units below"), required=False)

    def values(self):
        self.is_valid()  # the fields that are valid stay in cleaned_data
        data = self.cleaned_data
        return data.get("unit"), data.get("year") or timezone.localdate().year, not data.get("only_unit", False)
