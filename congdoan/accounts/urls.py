from django.contrib.auth import views as auth_views
from django.urls import path

from congdoan.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("security/", views.security, name="security"),
    path("password/", auth_views.PasswordChangeView.as_view(template_name="accounts/password_change.html", success_url="/accounts/security/"), name="password_change"),
    path("roles/", views.role_list, name="role_list"),
    path("roles/<int:pk>/revoke/", views.role_revoke, name="role_revoke"),
    path("tokens/", views.api_tokens, name="api_tokens"),
    path("tokens/<int:pk>/revoke/", views.api_token_revoke, name="api_token_revoke"),
]
