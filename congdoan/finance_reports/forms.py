"""Forms of finance reports: they read what people type; periods and months are parsed by
``periods`` (one parser for the pages and the API), the rules are in services."""

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from congdoan.finance_reports.errors import ReportError
from congdoan.finance_reports.periods import parse_month


class ReminderStartForm(forms.Form):
    """Send the reminders of a subtree as of a month."""

    unit = forms.IntegerField(widget=forms.HiddenInput(), required=False)
    as_of = forms.CharField(label=_("As of month"), required=False, max_length=10,
                            widget=forms.TextInput(attrs={"placeholder": "mm/yyyy", "inputmode": "numeric", "size": 8}),
                            help_text=_("Months before this one that are still unpaid are reminded. Empty: this month."))
    force = forms.BooleanField(label=_("Send again to employers already reminded as of this month"), required=False)

    def clean_as_of(self):
        try:
            return parse_month(self.cleaned_data.get("as_of"), timezone.localdate())
        except ReportError as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from exc


class EmployerContactForm(forms.Form):
    email = forms.CharField(label=_("E-mail address"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    contact_person = forms.CharField(label=_("Contact person"), max_length=128, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=20, required=False)


class ReminderScheduleForm(forms.Form):
    """Send the reminders of a subtree every month, on a day of the month."""

    schedule = forms.CharField(widget=forms.HiddenInput(), initial="1")  # tells this form from the one above
    day_of_month = forms.IntegerField(label=_("Day of the month"), min_value=1, max_value=28,
                                      widget=forms.NumberInput(attrs={"inputmode": "numeric", "size": 3}),
                                      help_text=_("From 1 to 28. On that day the months still unpaid before the current "
                                                  "month are reminded."))
    enabled = forms.BooleanField(label=_("Send the reminders every month"), required=False)
    language = forms.ChoiceField(label=_("Language of the notices"), choices=settings.LANGUAGES)
