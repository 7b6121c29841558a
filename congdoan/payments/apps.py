from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "congdoan.payments"
    label = "payments"
    verbose_name = _("Payments and reconciliation")
