from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BudgetsConfig(AppConfig):
    name = "congdoan.budgets"
    label = "budgets"
    verbose_name = _("Budgets and spending")
