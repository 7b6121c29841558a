"""Domain errors: a stable code for tests and the API, a translated message for people."""

from django.http import Http404


class DomainError(Exception):
    """A business rule said no. ``code`` is stable; ``message`` is shown to the user.

    ``field`` names the form field or column the error points at, when there is one.
    """

    status = 422

    def __init__(self, message, *, code: str, field: str | None = None, params: dict | None = None):
        super().__init__(str(message))
        self.message = message
        self.code = code
        self.field = field
        self.params = params or {}

    def __str__(self):
        return str(self.message)


class NotFoundInScope(DomainError, Http404):
    """The object does not exist or lies outside the actor's scope: both look the same (404)."""

    status = 404

    def __init__(self, message=None):
        from django.utils.translation import gettext_lazy as _

        super().__init__(message or _("Not found."), code="not_found")
