"""Who may call the JSON API, and what it answers when it says no.

Two ways in, tried in this order:
- ``Authorization: Bearer cdt_…``: a personal API key (accounts.ApiToken), for programs;
- the browser's Django session, so the site's own pages can call the API; for POST, PATCH and
  DELETE it must carry the CSRF token (``X-CSRFToken`` header), like any form of the site.
Either way ``request.user`` is the person, and scoping applies exactly as on the pages.

Every refusal has the same JSON shape, ``{"code", "field", "message"}``: a stable ``code`` for
programs and a ``message`` in the caller's language (Accept-Language; Vietnamese by default).
Domain errors of the services answer 422 (404 for what lies outside the caller's scope), a body
or query that does not parse answers 422 with the field it names.
"""

from django.conf import settings
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import APIKeyCookie, HttpBearer

from congdoan.accounts.services import api_token_authenticate
from congdoan.core.errors import DomainError


class ApiKeyAuth(HttpBearer):
    """``Authorization: Bearer <key>`` with a key made on the page *API keys*."""

    def authenticate(self, request, token):
        found = api_token_authenticate(token)
        if found is None:
            return None
        request.user = found.user  # the services and selectors act as this person
        request.api_token = found
        return found.user


class BrowserSessionAuth(APIKeyCookie):
    """The logged-in browser. Without a session cookie the request is simply not this kind
    (401 rather than a CSRF refusal); with one, unsafe methods need the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request):
        if not request.COOKIES.get(self.param_name):
            return None
        return super().__call__(request)

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        return user if user is not None and user.is_authenticated else None


class FieldErrorOut(Schema):
    code: str
    field: str | None = None
    message: str


class ErrorOut(Schema):
    """Every refusal of the API. ``code`` is stable; ``message`` is translated; ``field`` names the
    body or query field at fault, when there is one; ``errors`` lists each one when several."""

    code: str
    field: str | None = None
    message: str
    errors: list[FieldErrorOut] = []


#: the refusals every operation declares in the OpenAPI schema
ERRORS = {401: ErrorOut, 404: ErrorOut, 422: ErrorOut}
#: writes can also meet a CSRF refusal (browser session without the token)
WRITE_ERRORS = {**ERRORS, 403: ErrorOut}


def error_body(code: str, message, field: str | None = None, errors: list | None = None) -> dict:
    return {"code": code, "field": field, "message": str(message), "errors": errors or []}


def _validation_message(error: dict) -> tuple[str, str]:
    """(code, translated message) for one pydantic error."""
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required", _("This field is required.")
    if kind == "extra_forbidden":
        return "unknown_field", _("This field is unknown or cannot be changed here.")
    if kind.startswith("date") or kind.startswith("datetime"):
        return "invalid", _("Enter a date as YYYY-MM-DD.")
    if kind in ("enum", "literal_error"):
        return "invalid", _("Choose one of: %(choices)s.") % {"choices": ctx.get("expected", "")}
    if kind.startswith("int") or kind.startswith("float"):
        return "invalid", _("Enter a whole number.")
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return "invalid", _("The number is out of range.")
    if kind == "string_too_long":
        return "invalid", _("The text is too long (at most %(max)s characters).") % {"max": ctx.get("max_length", "")}
    if kind == "string_type":
        return "invalid", _("Enter a text.")
    if kind in ("json_invalid", "model_attributes_type", "dict_type"):
        return "invalid", _("The body is not valid JSON.")
    return "invalid", _("This value is not valid.")


def _field_of(loc) -> str | None:
    """The field a pydantic location points at: its last name, minus the wrappers ninja adds."""
    names = [str(part) for part in loc if isinstance(part, str) and part not in ("body", "query", "path", "payload", "filters")]
    return names[-1] if names else None


def install_error_handlers(api) -> None:
    """Map domain errors, 404s, failed authentication and unparsable input to ErrorOut."""

    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        # NotFoundInScope is a DomainError with status 404: outside scope looks like absent
        if exc.status == 404:
            return api.create_response(request, error_body("not_found", _("Not found.")), status=404)
        return api.create_response(request, error_body(exc.code, exc.message, exc.field), status=exc.status)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return api.create_response(request, error_body("not_found", _("Not found.")), status=404)

    @api.exception_handler(AuthenticationError)
    def unauthorized(request, exc):
        response = api.create_response(request, error_body(
            "unauthorized", _("Send a valid API key in the header “Authorization: Bearer <key>”, or log in.")), status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        if exc.status_code == 403:  # the only 403 of this API: a session request without its CSRF token
            return api.create_response(request, error_body(
                "csrf_failed", _("The CSRF check failed: send the X-CSRFToken header with the session cookie.")), status=403)
        return api.create_response(request, error_body("error", exc.message), status=exc.status_code)

    @api.exception_handler(ValidationError)
    def invalid(request, exc: ValidationError):
        errors = []
        for error in exc.errors:
            code, message = _validation_message(error)
            errors.append({"code": code, "field": _field_of(error.get("loc", ())), "message": str(message)})
        first = errors[0] if errors else {"code": "invalid", "field": None, "message": str(_("This value is not valid."))}
        return api.create_response(request, error_body(first["code"], first["message"], first["field"], errors), status=422)
