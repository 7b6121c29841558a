from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from congdoan.accounts import services
from congdoan.accounts.choices import Action
from congdoan.accounts.forms import ApiTokenForm, LoginForm, RoleGrantForm, TotpConfirmForm
from congdoan.accounts.models import ApiToken, RoleAssignment
from congdoan.core.errors import DomainError
from congdoan.core.qr import qr_svg
from congdoan.core.views import form_error, paginate
from congdoan.organizations.models import Unit


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        device = getattr(form, "otp_device", None)
        if device is not None:
            otp_login(self.request, device)
        return response


@login_required
def security(request):
    """Turn TOTP on or off; the secret is shown as a QR code until confirmed."""
    confirmed = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    pending = None
    form = TotpConfirmForm()
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "start" and not confirmed:
            TOTPDevice.objects.filter(user=request.user, confirmed=False).delete()
            TOTPDevice.objects.create(user=request.user, name="totp", confirmed=False)
            return redirect("accounts:security")
        if action == "confirm":
            pending = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
            form = TotpConfirmForm(request.POST)
            if pending and form.is_valid():
                if pending.verify_token(form.cleaned_data["token"].strip()):
                    pending.confirmed = True
                    pending.save(update_fields=["confirmed"])
                    otp_login(request, pending)
                    messages.success(request, _("Two-step login is on."))
                    return redirect("accounts:security")
                form.add_error("token", _("The code is wrong or expired. Try the newest one."))
        if action == "disable" and confirmed:
            TOTPDevice.objects.filter(user=request.user).delete()
            messages.success(request, _("Two-step login is off."))
            return redirect("accounts:security")
    if not confirmed:
        pending = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    return render(request, "accounts/security.html", {
        "confirmed": confirmed, "pending": pending, "form": form,
        "qr": qr_svg(pending.config_url) if pending else "",
    })


@login_required
def role_list(request):
    grants = (RoleAssignment.objects.restrict(request.user, Action.VIEW).active()
              .select_related("user", "unit", "granted_by").order_by("unit__path", "role", "id"))
    manageable = Unit.objects.restrict(request.user, Action.MANAGE_ROLES).active()
    form = RoleGrantForm(units=manageable)
    if request.method == "POST":
        form = RoleGrantForm(request.POST, units=manageable)
        if form.is_valid():
            try:
                services.role_grant(actor=request.user, user=form.cleaned_data["username"],
                                    unit=form.cleaned_data["unit"], role=form.cleaned_data["role"])
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, _("Role granted."))
                return redirect("accounts:role_list")
    return render(request, "accounts/role_list.html", {
        "page": paginate(request, grants), "form": form, "can_manage": manageable.exists(),
    })


@login_required
@require_POST
def role_revoke(request, pk):
    grant = get_object_or_404(RoleAssignment.objects.restrict(request.user, Action.MANAGE_ROLES), pk=pk)
    services.role_revoke(actor=request.user, grant=grant)
    messages.success(request, _("Role revoked."))
    return redirect("accounts:role_list")


@never_cache
@login_required
def api_tokens(request):
    """The user's own API keys: make one (its key is shown on this answer only), see when each
    was last used, revoke them. POST with action=create makes a key."""
    form = ApiTokenForm()
    new_key = None
    if request.method == "POST" and request.POST.get("action") == "create":
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            try:
                _token, new_key = services.api_token_create(actor=request.user, name=form.cleaned_data["name"],
                                                             expires_at=form.expires_at())
            except DomainError as exc:
                form_error(form, exc)
            else:
                form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=request.user)
    return render(request, "accounts/api_tokens.html", {"form": form, "tokens": tokens, "new_key": new_key})


@login_required
@require_POST
def api_token_revoke(request, pk):
    token = get_object_or_404(ApiToken.objects.filter(user=request.user), pk=pk)
    services.api_token_revoke(actor=request.user, token=token)
    messages.success(request, _("Key revoked: programs using it are refused from now on."))
    return redirect("accounts:api_tokens")
