import datetime
import re

from django import forms
from django.utils.translation import gettext_lazy as _

from congdoan.payments.choices import QueueReason, StatementFormat
from congdoan.payments.models import BankAccount, BankLayout
from congdoan.payments.parsers import AMOUNT_MESSAGES, AmountError, parse_amount

SPLIT_ROWS = 6


class AmountField(forms.CharField):
    """Integer đồng written the Vietnamese way ("1.234.567", "1 234 567 đ")."""

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        try:
            return parse_amount(value)
        except AmountError as exc:
            raise forms.ValidationError(AMOUNT_MESSAGES[exc.code](), code=exc.code) from exc


class MonthField(forms.CharField):
    """A month written mm/yyyy (or yyyy-mm, as <input type=month> sends it)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.TextInput(attrs={"placeholder": "mm/yyyy", "inputmode": "numeric", "size": 8}))
        super().__init__(**kwargs)

    def to_python(self, value):
        value = (super().to_python(value) or "").strip()
        if not value:
            return None
        match = re.fullmatch(r"(\d{1,2})[/.-](\d{4})", value) or re.fullmatch(r"(\d{4})-(\d{1,2})", value)
        if not match:
            raise forms.ValidationError(_("Write the month as mm/yyyy."), code="month_invalid")
        a, b = match.groups()
        month, year = (int(a), int(b)) if len(b) == 4 else (int(b), int(a))
        if not 1 <= month <= 12 or not 2000 <= year <= 2100:
            raise forms.ValidationError(_("Write the month as mm/yyyy."), code="month_invalid")
        return datetime.date(year, month, 1)


class DateInput(forms.DateInput):
    input_type = "date"


class StatementUploadForm(forms.Form):
    account = forms.ModelChoiceField(label=_("Bank account"), queryset=BankAccount.objects.none(), empty_label=None)
    format = forms.ChoiceField(label=_("Format"), choices=StatementFormat.choices, initial=StatementFormat.TABLE)
    layout = forms.ModelChoiceField(label=_("Bank layout (for Excel or CSV)"), queryset=BankLayout.objects.filter(is_active=True),
                                    required=False, help_text=_("Empty: the account's own layout."))
    file = forms.FileField(label=_("Statement file"),
                           widget=forms.ClearableFileInput(attrs={"accept": ".xlsx,.csv,.xml,.sta,.txt,.940"}))

    def __init__(self, *args, accounts=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = accounts if accounts is not None else BankAccount.objects.none()


class AllocateForm(forms.Form):
    """Match a line by hand: one payer, one month or several (a split)."""

    payer = forms.CharField(label=_("Payment reference, tax code or member code"), max_length=64)
    paid_on = forms.DateField(label=_("Posting date"), required=False, widget=DateInput(),
                              help_text=_("Empty: the bank date. Choose a date in an open month if that month is closed."))

    def __init__(self, *args, total: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.total = total
        for i in range(SPLIT_ROWS):
            self.fields[f"month_{i}"] = MonthField(label=_("Month"), required=False)
            self.fields[f"amount_{i}"] = AmountField(label=_("Amount (đồng)"), required=False,
                                                     widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 12}))

    def rows(self):
        return [(self[f"month_{i}"], self[f"amount_{i}"]) for i in range(SPLIT_ROWS)]

    def clean(self):
        data = super().clean()
        parts = []
        for i in range(SPLIT_ROWS):
            month, amount = data.get(f"month_{i}"), data.get(f"amount_{i}")
            if month and amount is None and i == 0 and not any(data.get(f"month_{j}") for j in range(1, SPLIT_ROWS)):
                amount = self.total  # one month, the whole payment
            if (month is None) != (amount is None):
                if f"month_{i}" not in self.errors and f"amount_{i}" not in self.errors:
                    self.add_error(f"month_{i}" if month is None else f"amount_{i}", _("Give both the month and the amount."))
                continue
            if month is not None:
                parts.append((month, amount))
        if not parts and not self.errors:
            self.add_error("month_0", _("Give at least one month and amount."))
        data["parts"] = parts
        return data


class ReturnForm(forms.Form):
    reason = forms.CharField(label=_("Why is it returned?"), max_length=255)


class QueueFilterForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), required=False, choices=[("", _("All reasons")), *QueueReason.choices])
    q = forms.CharField(label=_("Search the note or bank ID"), required=False, max_length=100)


class BankAccountForm(forms.Form):
    unit = forms.ModelChoiceField(label=_("Unit"), queryset=None, empty_label=None)
    bank_name = forms.CharField(label=_("Bank"), max_length=100)
    account_number = forms.CharField(label=_("Account number"), max_length=34)
    layout = forms.ModelChoiceField(label=_("Statement layout"), queryset=BankLayout.objects.filter(is_active=True), required=False)

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units


class BankLayoutForm(forms.ModelForm):
    class Meta:
        model = BankLayout
        fields = ["name", "bank_code", "header_row", "date_column", "amount_column", "debit_column", "description_column",
                  "transaction_id_column", "payer_column", "encoding", "date_format", "is_active"]


class CashReceiptForm(forms.Form):
    unit = forms.ModelChoiceField(label=_("Collecting unit"), queryset=None, empty_label=None)
    payer = forms.CharField(label=_("Payment reference, tax code or member code"), max_length=64)
    payer_name = forms.CharField(label=_("Paid by (name)"), max_length=200)
    paid_on = forms.DateField(label=_("Date paid"), widget=DateInput())
    note = forms.CharField(label=_("Note"), max_length=255, required=False)

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units
        for i in range(3):
            self.fields[f"month_{i}"] = MonthField(label=_("Month"), required=i == 0)
            self.fields[f"amount_{i}"] = AmountField(label=_("Amount (đồng)"), required=i == 0,
                                                     widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 12}))

    def rows(self):
        return [(self[f"month_{i}"], self[f"amount_{i}"]) for i in range(3)]

    def clean(self):
        data = super().clean()
        parts = []
        for i in range(3):
            month, amount = data.get(f"month_{i}"), data.get(f"amount_{i}")
            if (month is None) != (amount is None):
                if f"month_{i}" not in self.errors and f"amount_{i}" not in self.errors:
                    self.add_error(f"month_{i}" if month is None else f"amount_{i}", _("Give both the month and the amount."))
            elif month is not None:
                parts.append((month, amount))
        data["parts"] = parts
        return data


class ArrearsForm(forms.Form):
    unit = forms.IntegerField(required=False, widget=forms.HiddenInput())
    as_of = MonthField(label=_("As of month"), required=False)
    bucket = forms.CharField(required=False, widget=forms.HiddenInput())
