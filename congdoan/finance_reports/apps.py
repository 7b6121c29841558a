from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FinanceReportsConfig(AppConfig):
    name = "congdoan.finance_reports"
    label = "finance_reports"
    verbose_name = _("Finance reports")
