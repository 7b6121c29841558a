"""Errors of finance reports: a stable code for tests and the API, a translated message for people."""

from congdoan.core.errors import DomainError


class ReportError(DomainError):
    """A report or a reminder was asked for with input it cannot use (a malformed or future period,
    an employer with nothing to remind of, no e-mail address…)."""
