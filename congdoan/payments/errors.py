from congdoan.core.errors import DomainError


class PaymentError(DomainError):
    """A payment rule said no."""
