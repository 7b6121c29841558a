"""Finance's domain error: a stable ``code`` (tests and the API), a translated message (people)."""

from congdoan.core.errors import DomainError


class FinanceError(DomainError):
    """A finance rule said no: a closed month (``period_closed``), an unbalanced posting (``unbalanced``)…"""
