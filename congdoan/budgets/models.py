"""Budgets (dự toán) of a unit per year by spending category, and the unit's expenses (chi).

A budget is a versioned document: version 1 is drafted, then approved by a chair who did not
write it; an approved version never changes. A revision is a new draft version that copies
the lines; when it is approved, the version it replaces becomes *superseded*. At most one draft
and one approved version exist per unit and year (conditional unique constraints).

An expense is recorded with its supporting document by a finance official and approved by a
chair (never the same person); approval posts it to the ledger of ``congdoan.finance`` (see
ledger.py). Nothing is deleted: an approved expense found wrong is cancelled by a *reversal*, a
second row with the opposite amount in the same category and budget year, which carries the
reason. Budget against actual is the sum of approved rows (expenses and reversals).
"""

import uuid
from pathlib import PurePath

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from congdoan.budgets.choices import BudgetStatus, ExpenseKind, ExpenseStatus, PaidFrom
from congdoan.core.scoping import ScopedQuerySet


class Category(models.Model):
    """A spending heading (mục chi) budgets and expenses are sorted under.

    ``name`` is an English source string translated through the catalogue (the seeded headings
    are listed in choices.SEED_CATEGORIES); a heading added later in Vietnamese shows as written.
    Categories are never deleted: one no longer used is made inactive.
    """

    # also the ledger sub-account of the category's expenses ("611.<code>"), hence lower case and short
    code = models.CharField(_("code"), max_length=24, unique=True,
                            validators=[RegexValidator(r"^[a-z0-9_-]{1,24}$", _("Use lower-case letters, digits, - or _."))])
    name = models.CharField(_("name"), max_length=200)
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("spending category")
        verbose_name_plural = _("spending categories")

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        return gettext(self.name)


class BudgetQuerySet(ScopedQuerySet):
    scope_field = "unit__path"

    def approved(self):
        return self.filter(status=BudgetStatus.APPROVED)


class Budget(models.Model):
    """One version of a unit's budget for a year; its amounts are in ``lines``."""

    # the unique (unit, year, version) index serves lookups by unit
    unit = models.ForeignKey("organizations.Unit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+", db_index=False)
    year = models.PositiveSmallIntegerField(_("year"))
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    status = models.CharField(_("status"), max_length=12, choices=BudgetStatus.choices, default=BudgetStatus.DRAFT)
    revises = models.ForeignKey("self", verbose_name=_("revises"), null=True, blank=True, on_delete=models.PROTECT,
                                related_name="revisions")
    note = models.CharField(_("note"), max_length=500, blank=True)
    drafted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # who last changed the amounts of the draft: may not approve it either
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)

    objects = BudgetQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "unit_id", "-version"]
        verbose_name = _("budget")
        verbose_name_plural = _("budgets")
        constraints = [
            models.UniqueConstraint(fields=["unit", "year", "version"], name="budgets_budget_version_unique"),
            models.UniqueConstraint(fields=["unit", "year"], condition=Q(status=BudgetStatus.DRAFT), name="budgets_one_draft"),
            models.UniqueConstraint(fields=["unit", "year"], condition=Q(status=BudgetStatus.APPROVED), name="budgets_one_approved"),
        ]

    def __str__(self):
        return f"{self.unit.code} {self.year} v{self.version}"

    @property
    def is_draft(self) -> bool:
        return self.status == BudgetStatus.DRAFT


class BudgetLineQuerySet(ScopedQuerySet):
    scope_field = "budget__unit__path"


class BudgetLine(models.Model):
    """The amount (đồng) a budget version plans for one category; a category without a line plans 0."""

    budget = models.ForeignKey(Budget, on_delete=models.PROTECT, related_name="lines", db_index=False)  # unique (budget, category)
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(_("amount (đồng)"))

    objects = BudgetLineQuerySet.as_manager()

    class Meta:
        ordering = ["category__sort_order", "category__code"]
        verbose_name = _("budget line")
        verbose_name_plural = _("budget lines")
        constraints = [
            models.UniqueConstraint(fields=["budget", "category"], name="budgets_line_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="budgets_line_amount_not_negative"),
        ]

    def __str__(self):
        return f"{self.category_id}: {self.amount}"


def document_path(instance, filename: str) -> str:
    """A random stored name (the original is kept in ``document_name``), under MEDIA_ROOT/budgets/."""
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"budgets/documents/{instance.spent_on:%Y/%m}/{uuid.uuid4().hex}{suffix}"


class ExpenseQuerySet(ScopedQuerySet):
    scope_field = "unit__path"

    def counted(self):
        """The rows budget against actual adds up: approved expenses and their reversals."""
        return self.filter(status=ExpenseStatus.APPROVED)


class Expense(models.Model):
    """Money a unit spent (or the reversal of such a record), with its supporting document.

    ``year`` is the budget year the amount counts against: the year of ``spent_on`` for an
    expense, the year of the reversed expense for a reversal (dated the day it was made).
    ``posted`` tells whether the ledger has taken the approved row; until finance is
    installed, approved rows wait with ``posted`` false (see ledger.py).
    """

    # the (unit, spent_on) index serves lookups by unit
    unit = models.ForeignKey("organizations.Unit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+", db_index=False)
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=10, choices=ExpenseKind.choices, default=ExpenseKind.EXPENSE)
    year = models.PositiveSmallIntegerField(_("budget year"))
    spent_on = models.DateField(_("date"))
    amount = models.BigIntegerField(_("amount (đồng)"))
    description = models.CharField(_("what for"), max_length=500)
    payee = models.CharField(_("paid to"), max_length=200, blank=True)
    paid_from = models.CharField(_("paid from"), max_length=4, choices=PaidFrom.choices, default=PaidFrom.BANK)
    document_number = models.CharField(_("document number"), max_length=64, blank=True)
    document_date = models.DateField(_("document date"), null=True, blank=True)
    document = models.FileField(_("document"), upload_to=document_path, max_length=255, blank=True)
    document_name = models.CharField(_("file name"), max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=ExpenseStatus.choices, default=ExpenseStatus.RECORDED)
    reverses = models.OneToOneField("self", verbose_name=_("reverses"), null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="reversal")
    # why a reversal was made, or why an expense waiting for approval was cancelled
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    cancelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    posted = models.BooleanField(_("posted to the ledger"), default=False)
    posted_at = models.DateTimeField(null=True, blank=True)

    objects = ExpenseQuerySet.as_manager()

    class Meta:
        ordering = ["-spent_on", "-id"]
        verbose_name = _("expense")
        verbose_name_plural = _("expenses")
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind=ExpenseKind.EXPENSE, amount__gt=0, reverses__isnull=True)
                           | Q(kind=ExpenseKind.REVERSAL, amount__lt=0, reverses__isnull=False)),
                name="budgets_expense_sign_by_kind"),
            models.CheckConstraint(condition=Q(posted=False) | Q(status=ExpenseStatus.APPROVED), name="budgets_posted_only_approved"),
        ]
        indexes = [
            models.Index(fields=["unit", "year", "category"], condition=Q(status=ExpenseStatus.APPROVED), name="budgets_expense_actual"),
            models.Index(fields=["unit", "spent_on"], name="budgets_expense_unit_date"),
            models.Index(fields=["posted"], condition=Q(status=ExpenseStatus.APPROVED, posted=False), name="budgets_expense_unposted"),
        ]

    def __str__(self):
        number = f" {self.document_number}" if self.document_number else ""
        return f"{self.get_kind_display()}{number} {self.spent_on:%d/%m/%Y} · {self.amount:,} đ".replace(",", ".")

    @property
    def external_id(self) -> str:
        """Identifies the row in the ledger: posting twice posts once."""
        return f"budget:expense:{self.pk}"

    @property
    def is_reversal(self) -> bool:
        return self.kind == ExpenseKind.REVERSAL
