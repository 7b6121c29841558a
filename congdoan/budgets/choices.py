"""Choices of budgets and spending, and the union's usual spending headings (seeded as categories)."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop


class BudgetStatus(models.TextChoices):
    """Where a version of a unit's yearly budget stands. Only a draft changes."""

    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")
    SUPERSEDED = "superseded", _("Replaced by a revision")


class ExpenseStatus(models.TextChoices):
    RECORDED = "recorded", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    CANCELLED = "cancelled", _("Cancelled")


class ExpenseKind(models.TextChoices):
    """An expense, or the record that reverses an approved one (negative amount, same category and budget year)."""

    EXPENSE = "expense", _("Expense")
    REVERSAL = "reversal", _("Reversal")


class PaidFrom(models.TextChoices):
    """Where the money left from: the ledger credits the bank account (112) or the cash box (111)."""

    BANK = "bank", _("Bank transfer")
    CASH = "cash", _("Cash")


#: the union's usual spending headings (mục chi), seeded as categories by migration 0002.
#: Names are English source strings shown through gettext; the Vietnamese wording the unions use
#: is on the right (the translation the catalogue must carry, see docs/budgets.md).
SEED_CATEGORIES = [
    # code, English name (msgid), order                                   Vietnamese
    ("salary", gettext_noop("Salaries of full-time union officials"), 10),  # Chi trả lương cán bộ công đoàn chuyên trách
    ("allowance", gettext_noop("Allowances of union officials"), 20),  # Chi phụ cấp cán bộ công đoàn
    ("administration", gettext_noop("Administration"), 30),  # Chi quản lý hành chính
    ("activities", gettext_noop("Union movement activities"), 40),  # Chi hoạt động phong trào
    ("training", gettext_noop("Training of union officials"), 50),  # Chi đào tạo cán bộ
    ("visits", gettext_noop("Visits to members"), 60),  # Chi thăm hỏi
    ("hardship", gettext_noop("Support for members and workers"), 70),  # Trợ cấp đoàn viên và người lao động
    ("other", gettext_noop("Other spending"), 90),  # Chi khác
]

#: quarters of the calendar (and budget) year
QUARTERS = (1, 2, 3, 4)
