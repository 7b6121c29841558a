"""Union finance: the rules (as data), what employers and members owe, and a double-entry ledger.

Three groups of models:

* **Rules** (``Rule``, ``UnitDuesRate``): rates, caps, the base salary, exemptions and the shares
  kept by each level, each an effective-dated record with its legal basis. Never constants in code.
* **What is owed** (``SalaryFundDeclaration``, ``FeeRelief``, ``MemberSalary``, ``DuesExemption``):
  the facts from which the union fee and dues owed are computed by ``selectors``.
* **The ledger** (``Account``, ``Transaction``, ``Entry``, ``Receipt``, ``Period``, ``AccountBalance``):
  balanced transactions in whole đồng. Ledger rows are never changed nor deleted: a mistake is
  corrected by a reversing transaction. ``delete()`` raises, on the model and on its querysets, and
  on PostgreSQL a trigger refuses UPDATE and DELETE of entries (migration 0003).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from congdoan.core.scoping import ScopedQuerySet
from congdoan.finance.choices import (
    AccountCode, DeclarationSource, PayerKind, ReliefKind, RuleKind, Source, TransactionKind, account_type,
)
from congdoan.organizations.choices import EmployerType, Level


class LedgerIsPermanent(Exception):
    """Raised by any attempt to delete or change a ledger row: correct with a reversing transaction."""


class PermanentQuerySet(ScopedQuerySet):
    """Querysets of rows that are never deleted nor changed in bulk."""

    def delete(self):
        raise LedgerIsPermanent("ledger rows are never deleted; post a reversing transaction")

    def update(self, **kwargs):
        raise LedgerIsPermanent("ledger rows are never changed; post a reversing transaction")


class PermanentModel(models.Model):
    """A row written once: saving an existing row or deleting one raises."""

    class Meta:
        abstract = True

    def delete(self, *args, **kwargs):
        raise LedgerIsPermanent(f"{self._meta.label} rows are never deleted")

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise LedgerIsPermanent(f"{self._meta.label} rows are never changed")
        super().save(*args, **kwargs)


# -- rules -----------------------------------------------------------------------------------------
class Rule(models.Model):
    """One effective-dated rule: in force from ``valid_from`` until the next record of the same
    kind, level and employer type. Its ``value`` is in basis points (rates, caps, shares), đồng (the
    base salary) or 1/0 (exemptions), as ``choices.VALUE_UNIT`` says.

    Rules are edited only by the national level's finance officials, through ``services.rule_create``
    and ``services.shares_set``; old versions stay, so any month can be computed as it was.
    """

    kind = models.CharField(_("rule"), max_length=20, choices=RuleKind.choices)
    level = models.CharField(_("level"), max_length=20, choices=Level.choices, blank=True,
                             help_text=_("For shares: the level that keeps this share."))
    employer_type = models.CharField(_("employer type"), max_length=20, choices=EmployerType.choices, blank=True,
                                     help_text=_("For exemptions: the employer type exempted."))
    value = models.BigIntegerField(_("value"))
    valid_from = models.DateField(_("in force from"))
    legal_basis = models.CharField(_("legal basis"), max_length=255)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "level", "employer_type", "valid_from"]
        verbose_name = _("finance rule")
        verbose_name_plural = _("finance rules")
        constraints = [
            models.UniqueConstraint(fields=["kind", "level", "employer_type", "valid_from"], name="finance_rule_unique_version"),
            models.CheckConstraint(condition=Q(value__gte=0), name="finance_rule_value_not_negative"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.level or self.employer_type} {self.value} ({self.valid_from:%d/%m/%Y})"

    def delete(self, *args, **kwargs):
        raise LedgerIsPermanent("rules are never deleted; add a new version")


class UnitDuesRateQuerySet(ScopedQuerySet):
    scope_field = "unit__path"


class UnitDuesRate(models.Model):
    """A grassroots union's own dues rate, voted by its members, from a month on (basis points of the
    member's social-insurance salary). Higher than the general rate; the extra stays in full with
    the grassroots union. A record with rate 0 returns the unit to the general rate."""

    unit = models.ForeignKey("organizations.Unit", verbose_name=_("grassroots union"), on_delete=models.PROTECT, related_name="+")
    rate_bp = models.PositiveIntegerField(_("rate (basis points)"))
    valid_from = models.DateField(_("from month"))
    decision = models.CharField(_("decision"), max_length=255)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = UnitDuesRateQuerySet.as_manager()

    class Meta:
        ordering = ["unit", "valid_from"]
        verbose_name = _("unit dues rate")
        constraints = [models.UniqueConstraint(fields=["unit", "valid_from"], name="finance_unit_rate_unique")]

    def __str__(self):
        return f"{self.unit_id} {self.rate_bp} bp ({self.valid_from:%m/%Y})"


# -- what is owed --------------------------------------------------------------------------------------
class DeclarationQuerySet(ScopedQuerySet):
    scope_field = "unit__path"


class SalaryFundDeclaration(models.Model):
    """The salary fund on which an employer paid social insurance for a month (quỹ tiền lương làm
    căn cứ đóng BHXH), in đồng: the base of the union fee. One per employer (its grassroots union)
    and month; it can be corrected while that month is open in the union's books."""

    # indexed by (unit, month, fund) below: what the arrears report reads, without touching the table
    unit = models.ForeignKey("organizations.Unit", verbose_name=_("employer"), on_delete=models.PROTECT, related_name="+",
                             db_index=False)
    month = models.DateField(_("month"))
    si_salary_fund = models.BigIntegerField(_("social-insurance salary fund (đồng)"))
    workers = models.PositiveIntegerField(_("workers on social insurance"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=DeclarationSource.choices, default=DeclarationSource.FORM)
    declared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    declared_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeclarationQuerySet.as_manager()

    class Meta:
        ordering = ["-month", "unit"]
        verbose_name = _("salary fund declaration")
        verbose_name_plural = _("salary fund declarations")
        constraints = [
            models.UniqueConstraint(fields=["unit", "month"], name="finance_declaration_unique_month"),
            models.CheckConstraint(condition=Q(si_salary_fund__gt=0), name="finance_declaration_fund_positive"),
        ]
        indexes = [
            models.Index(fields=["month", "unit"], name="finance_declaration_month"),
            models.Index(fields=["unit", "month", "si_salary_fund"], name="finance_declaration_fund"),
        ]

    def __str__(self):
        return f"{self.unit_id} {self.month:%m/%Y}: {self.si_salary_fund:,} đ"


class FeeReliefQuerySet(ScopedQuerySet):
    scope_field = "unit__path"


class FeeRelief(models.Model):
    """An exemption, reduction or suspension of an employer's union fee for up to 12 months,
    decided by an upper level. A suspension moves what is owed to the month after it ends."""

    unit = models.ForeignKey("organizations.Unit", verbose_name=_("employer"), on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=12, choices=ReliefKind.choices)
    first_month = models.DateField(_("first month"))
    last_month = models.DateField(_("last month"))
    reduction_bp = models.PositiveIntegerField(_("reduction (basis points)"), default=0)
    decision = models.CharField(_("decision"), max_length=255)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FeeReliefQuerySet.as_manager()

    class Meta:
        ordering = ["unit", "first_month"]
        verbose_name = _("union fee relief")
        constraints = [
            models.CheckConstraint(condition=Q(first_month__lte=models.F("last_month")), name="finance_relief_months_ordered"),
            models.CheckConstraint(condition=Q(reduction_bp__lte=10_000), name="finance_relief_reduction_at_most_all"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.first_month:%m/%Y}–{self.last_month:%m/%Y}"


class MemberSalaryQuerySet(ScopedQuerySet):
    scope_field = "member__unit__path"


class MemberSalary(models.Model):
    """A member's social-insurance salary from a month on (đồng per month): the base of his dues."""

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    valid_from = models.DateField(_("from month"))
    salary = models.BigIntegerField(_("social-insurance salary (đồng)"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MemberSalaryQuerySet.as_manager()

    class Meta:
        ordering = ["member", "valid_from"]
        verbose_name = _("member salary")
        constraints = [
            models.UniqueConstraint(fields=["member", "valid_from"], name="finance_member_salary_unique"),
            models.CheckConstraint(condition=Q(salary__gte=0), name="finance_member_salary_not_negative"),
        ]


class DuesExemptionQuerySet(ScopedQuerySet):
    scope_field = "member__unit__path"


class DuesExemption(models.Model):
    """Months in which a member owes no dues (unpaid leave, illness, unemployment…), decided by his
    grassroots union; ``last_month`` empty means until further notice."""

    member = models.ForeignKey("members.Member", on_delete=models.PROTECT, related_name="+")
    first_month = models.DateField(_("first month"))
    last_month = models.DateField(_("last month"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=255)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DuesExemptionQuerySet.as_manager()

    class Meta:
        ordering = ["member", "first_month"]
        verbose_name = _("dues exemption")


class CollectionAccountQuerySet(ScopedQuerySet):
    scope_field = "unit__path"


class CollectionAccount(models.Model):
    """The bank account printed on a unit's payment notices (VietQR): the nearest one up the tree is used."""

    unit = models.ForeignKey("organizations.Unit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+")
    bank_bin = models.CharField(_("bank (NAPAS BIN)"), max_length=6)
    account_number = models.CharField(_("account number"), max_length=19)
    account_name = models.CharField(_("account holder"), max_length=100)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CollectionAccountQuerySet.as_manager()

    class Meta:
        ordering = ["unit", "-created_at"]
        verbose_name = _("collection account")
        constraints = [models.UniqueConstraint(fields=["unit"], name="finance_collection_account_per_unit")]

    def __str__(self):
        return f"{self.bank_bin} {self.account_number}"


# -- the ledger -----------------------------------------------------------------------------------------
class AccountQuerySet(ScopedQuerySet):
    scope_field = "unit__path"


class Account(models.Model):
    """One account of a unit's books, created when first used: an account of the chart
    (``choices.AccountCode``) or a sub-account of one, written "<code>.<name>" (e.g. "611.events" for
    the expenses of one budget category); a sub-account has its parent's type."""

    unit = models.ForeignKey("organizations.Unit", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("account"), max_length=40)

    objects = AccountQuerySet.as_manager()

    class Meta:
        ordering = ["unit", "code"]
        verbose_name = _("ledger account")
        constraints = [models.UniqueConstraint(fields=["unit", "code"], name="finance_account_unique")]

    def __str__(self):
        return f"{self.code} {self.label}"

    @property
    def label(self) -> str:
        base, _dot, sub = self.code.partition(".")
        name = str(AccountCode(base).label) if base in AccountCode.values else ""
        return f"{name} · {sub}" if sub else name

    @property
    def type(self) -> str:
        return account_type(self.code)

    def delete(self, *args, **kwargs):
        raise LedgerIsPermanent("ledger accounts are never deleted")


class TransactionQuerySet(PermanentQuerySet):
    scope_field = "unit__path"


class Transaction(PermanentModel):
    """A balanced posting: its entries' debits equal their credits, for each unit it touches.

    ``unit`` is the unit whose books it was posted in (a receipt also posts the upper levels'
    shares in their books). ``external_id`` makes posting idempotent; ``reverses`` points at the
    transaction this one cancels (at most one reversal per transaction).
    """

    unit = models.ForeignKey("organizations.Unit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+")
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=12, choices=TransactionKind.choices)
    memo = models.CharField(_("description"), max_length=255, blank=True)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    amount = models.BigIntegerField(_("amount (đồng)"), default=0)  # sum of the debits, for lists
    # PROTECT: who posted stays on the ledger (a user who posted is deactivated, never deleted)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                   db_index=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TransactionQuerySet.as_manager()

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name = _("ledger transaction")
        verbose_name_plural = _("ledger transactions")
        indexes = [models.Index(fields=["unit", "date"], name="finance_txn_unit_date")]

    def __str__(self):
        return f"#{self.pk} {self.date:%d/%m/%Y} {self.get_kind_display()}"


class EntryQuerySet(PermanentQuerySet):
    scope_field = "unit__path"


class Entry(PermanentModel):
    """One line of a transaction: a debit or a credit (never both, never zero) of one account.

    ``unit`` and ``date`` repeat the account's unit and the transaction's date so that a balance is
    one range scan of the index (account, date, debit, credit), covering on both databases.
    """

    # the database checks these three once per INSERT statement over all its rows, not one row at a time
    # (finance migration 0015): the transaction exists, the account exists and belongs to the entry's unit
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries", db_constraint=False)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    unit = models.ForeignKey("organizations.Unit", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    date = models.DateField(_("date"))
    debit = models.BigIntegerField(_("debit"), default=0)
    credit = models.BigIntegerField(_("credit"), default=0)

    objects = EntryQuerySet.as_manager()

    class Meta:
        ordering = ["transaction", "id"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.CheckConstraint(
                condition=(Q(debit__gt=0) & Q(credit=0)) | (Q(debit=0) & Q(credit__gt=0)), name="finance_entry_one_side"),
        ]
        indexes = [
            models.Index(fields=["account", "date", "debit", "credit"], name="finance_entry_balance"),
            models.Index(fields=["unit", "date"], name="finance_entry_unit_date"),
        ]

    def __str__(self):
        return f"{self.account_id} D{self.debit} C{self.credit}"


class ReceiptQuerySet(PermanentQuerySet):
    scope_field = "unit__path"


class Receipt(PermanentModel):
    """Money received for a grassroots union from one payer for one month, as posted to the ledger.

    Payments (``congdoan.payments``) posts one per allocation, keyed by its ``external_id``. A
    reversal adds a row with the opposite amount, so "paid" is always a plain sum.

    ``transaction`` is the receipt's own transaction (``receipt_post``: a match by hand, a cash receipt)
    or the summary transaction of a bank statement's receipts for one province, day, source and account
    (``bulk.receipts_post_bulk``, like a "chứng từ ghi sổ" summarising its source documents). Either way
    the receipt keeps its own split between the levels: ``part_0`` for the union, ``part_1..3`` for
    the levels above it (``unit_1..3``, grassroots side first), which add up to ``amount`` (checked by
    the database); receipts posted before the split was stored have ``part_0`` NULL.
    """

    # unique by the constraint below: no second index for LIKE searches, which nothing makes on it
    external_id = models.CharField(max_length=100)
    # checked once per INSERT statement, like the entries' (finance migration 0015)
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="receipts", db_constraint=False)
    part_0 = models.BigIntegerField(_("union's share (đồng)"), null=True, blank=True)
    unit_1 = models.ForeignKey("organizations.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               db_index=False, db_constraint=False)
    part_1 = models.BigIntegerField(default=0, db_default=0)
    unit_2 = models.ForeignKey("organizations.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               db_index=False, db_constraint=False)
    part_2 = models.BigIntegerField(default=0, db_default=0)
    unit_3 = models.ForeignKey("organizations.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               db_index=False, db_constraint=False)
    part_3 = models.BigIntegerField(default=0, db_default=0)
    unit = models.ForeignKey("organizations.Unit", verbose_name=_("grassroots union"), on_delete=models.PROTECT, related_name="+",
                             db_index=False, db_constraint=False)
    payer_kind = models.CharField(_("payer"), max_length=10, choices=PayerKind.choices)
    # checked by the database once per INSERT statement, with the receipt's other references (finance 0019)
    member = models.ForeignKey("members.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False,
                               db_constraint=False)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    amount = models.BigIntegerField(_("amount (đồng)"))
    paid_on = models.DateField(_("date"))
    period = models.DateField(_("month paid for"))
    # at most one reversal per receipt (the partial unique constraint below, which holds only reversals)
    reversal_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False,
                                    db_constraint=False)

    objects = ReceiptQuerySet.as_manager()

    class Meta:
        ordering = ["-paid_on", "-id"]
        verbose_name = _("receipt")
        indexes = [
            models.Index(fields=["unit", "source", "period", "amount"], name="finance_receipt_unit_period"),
            models.Index(fields=["member", "period"], condition=Q(member__isnull=False), name="finance_receipt_member"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(part_0__isnull=True) | Q(amount=F("part_0") + F("part_1") + F("part_2") + F("part_3")),
                                   name="finance_receipt_parts_sum"),
            models.UniqueConstraint(fields=["external_id"], name="finance_receipt_external_id_unique"),
            models.UniqueConstraint(fields=["reversal_of"], condition=Q(reversal_of__isnull=False), name="finance_receipt_reversed_once"),
        ]

    def parts(self) -> list[tuple[int, int]]:
        """[(unit id, part)] of the levels with a part, the union first (empty when not stored)."""
        if self.part_0 is None:
            return []
        pairs = [(self.unit_id, self.part_0), (self.unit_1_id, self.part_1), (self.unit_2_id, self.part_2), (self.unit_3_id, self.part_3)]
        return [(unit_id, part) for unit_id, part in pairs if unit_id and part]


class PeriodQuerySet(PermanentQuerySet):
    scope_field = "unit__path"


class Period(PermanentModel):
    """A closed month of a unit's books: nothing can be posted in it any more. Months close in
    order (closing a month closes the open months before it), so a closing balance never changes."""

    unit = models.ForeignKey("organizations.Unit", on_delete=models.PROTECT, related_name="+")
    month = models.DateField(_("month"))
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(auto_now_add=True)

    objects = PeriodQuerySet.as_manager()

    class Meta:
        ordering = ["unit", "-month"]
        verbose_name = _("closed month")
        constraints = [models.UniqueConstraint(fields=["unit", "month"], name="finance_period_unique")]

    def __str__(self):
        return f"{self.unit_id} {self.month:%m/%Y}"


class AccountBalanceQuerySet(PermanentQuerySet):
    scope_field = "account__unit__path"


class AccountBalance(PermanentModel):
    """An account's cumulative debits and credits up to the end of a closed month, written when the
    month closes: a balance at any date is the last snapshot before it plus one short range of entries."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    month = models.DateField()
    debit = models.BigIntegerField(default=0)
    credit = models.BigIntegerField(default=0)

    objects = AccountBalanceQuerySet.as_manager()

    class Meta:
        ordering = ["account", "month"]
        constraints = [models.UniqueConstraint(fields=["account", "month"], name="finance_balance_unique")]
