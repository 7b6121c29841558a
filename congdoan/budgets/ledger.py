"""The one place where budgets talks to ``congdoan.finance`` (the double-entry ledger, closed months, revenue).

Everything is looked up with importlib, so budgets works (and is tested) with or without finance.
While finance does not provide what a function calls, it degrades to "not wired": an approved
expense stays *awaiting posting* (``Expense.posted`` false) and ``services.expense_post_pending``
posts it later; no month is closed; revenue comes from the payments allocations.

What finance is asked for:
* ``services.ledger_post(actor, unit, date, lines, memo, external_id, kind)`` for an approved
  expense: debit ``611.<category code>`` (a sub-account of Expenses), credit ``112`` (bank) or
  ``111`` (cash), in the books of the unit (its grassroots union's for a sub-union, through
  ``selectors.book_unit_of``); ``external_id`` "budget:expense:<id>" makes posting twice post once;
* ``services.transaction_reverse(actor, transaction, date, memo)`` for a reversal, on the
  transaction of the expense it cancels;
* ``selectors.closed_months(unit_ids, start, end)``;
* ``selectors.revenue_by_quarter(unit, year, subtree)`` when finance has it.
If finance renames or moves ``ledger_post``, LEDGER_POST is the one line to change; if its
arguments change, ``expense_entry``. Tests replace ``post_expense`` with monkeypatch.
"""

import datetime
import importlib

from django.apps import apps
from django.utils.translation import gettext as _

from congdoan.core.errors import DomainError

#: where finance's posting function lives: (module under congdoan.finance, function name)
LEDGER_POST = ("services", "ledger_post")
EXPENSE_ACCOUNT = "611"
FUNDS_ACCOUNT = {"bank": "112", "cash": "111"}


def _finance(module: str, name: str):
    if not apps.is_installed("congdoan.finance"):
        return None
    try:
        return getattr(importlib.import_module(f"congdoan.finance.{module}"), name, None)
    except ImportError:
        return None


def available() -> bool:
    """Does finance take postings?"""
    return _finance(*LEDGER_POST) is not None


def book_unit(unit):
    """The unit whose books hold ``unit``'s money (a sub-union's are its grassroots union's)."""
    func = _finance("selectors", "book_unit_of")
    return func(unit) if func is not None else unit


def expense_entry(expense) -> dict:
    """The keyword arguments of ``ledger_post`` for an approved expense: one balanced transaction.

    The expense debits the category's expense sub-account and credits the bank or the cash box.
    (A reversal, negative, swaps the sides; it is normally posted by ``transaction_reverse``.)
    """
    amount = abs(expense.amount)
    expense_account = f"{EXPENSE_ACCOUNT}.{expense.category.code}"
    funds = FUNDS_ACCOUNT.get(expense.paid_from, FUNDS_ACCOUNT["bank"])
    debit, credit = (funds, expense_account) if expense.amount < 0 else (expense_account, funds)
    return {
        "unit": book_unit(expense.unit),
        "date": expense.spent_on,
        "external_id": expense.external_id,
        "memo": f"{expense.document_number} {expense.description}".strip()[:255],
        "kind": "expense",
        "lines": [
            {"account": debit, "debit": amount, "credit": 0},
            {"account": credit, "debit": 0, "credit": amount},
        ],
    }


def _transaction_of(expense):
    """Finance's transaction of a posted expense (found by its external id), or None."""
    model = _finance("models", "Transaction")
    if model is None:
        return None
    return model.objects.filter(external_id=expense.external_id).first()


def post_expense(*, actor, expense) -> bool:
    """Post one approved expense (or reversal) to the ledger.

    True when the ledger took it; False while finance does not provide ``ledger_post`` (the row
    then waits, unposted). A refusal by the ledger (a ``DomainError``: closed month, dissolved
    unit…) propagates, so the approval that asked for the posting rolls back.
    """
    ledger_post = _finance(*LEDGER_POST)
    if ledger_post is None:
        return False
    if expense.is_reversal:
        reverse = _finance("services", "transaction_reverse")
        original = _transaction_of(expense.reverses)
        if original is None:
            raise DomainError(_("The cancelled expense is not posted to the ledger yet: its reversal waits for it."),
                              code="original_unposted")
        if reverse is not None:
            reverse(actor=actor, transaction=original, date=expense.spent_on, memo=expense.reason[:255])
            return True
    ledger_post(actor=actor, **expense_entry(expense))
    return True


def is_month_closed(unit_id: int, day: datetime.date) -> bool:
    """Has finance closed this unit's month? (Nothing is closed while finance does not say.)"""
    func = _finance("selectors", "closed_months")
    if func is None:
        return False
    month = day.replace(day=1)
    return (unit_id, month) in set(func(unit_ids=[unit_id], start=month, end=month))


def revenue_by_quarter(*, unit, year: int, subtree: bool) -> dict | None:
    """{(quarter, source): amount} of the unit's revenue from finance's books, or None while finance
    does not provide ``selectors.revenue_by_quarter`` (the payments allocations are used instead)."""
    func = _finance("selectors", "revenue_by_quarter")
    if func is None:
        return None
    return dict(func(unit=unit, year=year, subtree=subtree))
