"""The project's URLs plus this app's, until the lead adds the include to congdoan/urls.py."""

from django.urls import include, path

from congdoan.urls import urlpatterns as project_urls

urlpatterns = list(project_urls)
if not any(getattr(p, "namespace", None) == "payments" for p in urlpatterns):
    urlpatterns.append(path("payments/", include("congdoan.payments.urls")))
