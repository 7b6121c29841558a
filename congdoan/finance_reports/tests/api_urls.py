"""The project's URLs plus an API holding only the finance reports router, for the API tests
(congdoan/api.py mounts the same endpoints once the lead adds the router there)."""

from django.urls import path
from ninja import NinjaAPI

from congdoan.core.api_auth import ApiKeyAuth, BrowserSessionAuth, install_error_handlers
from congdoan.finance_reports.api import build_router
from congdoan.urls import urlpatterns as project_urls

api = NinjaAPI(title="finance reports test", urls_namespace="finance_reports_test_api", auth=[ApiKeyAuth(), BrowserSessionAuth()])
install_error_handlers(api)
api.add_router("/finance-reports", build_router())

urlpatterns = [*project_urls, path("api-test/", api.urls)]
