from django.urls import include, path

from congdoan.api import api

urlpatterns = [
    path("", include("congdoan.dashboard.urls")),
    path("accounts/", include("congdoan.accounts.urls")),
    path("units/", include("congdoan.organizations.urls")),
    path("members/", include("congdoan.members.urls")),
    path("audit/", include("congdoan.audit.urls")),
    path("imports/", include("congdoan.imports.urls")),
    path("payments/", include("congdoan.payments.urls")),
    path("finance/", include("congdoan.finance.urls")),
    path("budgets/", include("congdoan.budgets.urls")),
    path("finance-reports/", include("congdoan.finance_reports.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", api.urls),
]
