import datetime

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from congdoan.accounts.choices import Role
from congdoan.organizations.models import Unit


class LoginForm(AuthenticationForm):
    """Username and password; a 6-digit code too when the user has turned on TOTP."""

    otp_token = forms.CharField(label=_("Authenticator code"), required=False, max_length=8,
                                widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))

    error_messages = {
        **AuthenticationForm.error_messages,
        "otp_required": _("Enter the 6-digit code from your authenticator app."),
        "otp_invalid": _("The authenticator code is wrong or expired."),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            token = (self.cleaned_data.get("otp_token") or "").strip()
            if not token:
                raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
            device = match_token(user, token)
            if device is None:
                raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
            self.otp_device = device


class TotpConfirmForm(forms.Form):
    token = forms.CharField(label=_("Code shown by the app"), max_length=8,
                            widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))


class RoleGrantForm(forms.Form):
    username = forms.CharField(label=_("Username of the official"), max_length=150)
    unit = forms.ModelChoiceField(label=_("Unit"), queryset=Unit.objects.none())
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)

    def __init__(self, *args, units=None, **kwargs):
        super().__init__(*args, **kwargs)
        # only units the granter may manage are offered (and accepted)
        self.fields["unit"].queryset = units if units is not None else Unit.objects.none()

    def clean_username(self):
        name = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username__iexact=name).first()
        if user is None:
            raise forms.ValidationError(_("No account has the username “%(name)s”."), params={"name": name})
        return user


class ApiTokenForm(forms.Form):
    """Name and lifetime of a new API key."""

    LIFETIMES = [("30", _("30 days")), ("90", _("90 days")), ("365", _("1 year")), ("", _("Never (until revoked)"))]

    name = forms.CharField(label=_("Name of the key"), max_length=64,
                           help_text=_("Which program or person uses it, e.g. “HR system sync”."))
    lifetime = forms.ChoiceField(label=_("Expires after"), choices=LIFETIMES, initial="90", required=False)

    def expires_at(self):
        days = self.cleaned_data.get("lifetime")
        return timezone.now() + datetime.timedelta(days=int(days)) if days else None
