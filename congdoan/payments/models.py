"""Bank statements, their lines, how each line is reconciled, and cash receipts.

A statement line (``BankTransaction``) is a fact from the bank and never changes; its
``status`` says where it stands in reconciliation. What a line pays for is one or more
``Allocation`` rows (one per payer and month; several when an accountant splits a payment),
each posted to the ledger as a receipt through ``congdoan.finance`` (see ledger.py).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from congdoan.core.scoping import ScopedQuerySet
from congdoan.payments.choices import (
    RUNNING_STATUSES, ImportStatus, LineStatus, MatchedBy, PayerKind, Phase, QueueReason, Source, StatementFormat,
)

#: how many line errors a job keeps (the total is counted apart)
MAX_STORED_ERRORS = 1000


class BankLayout(models.Model):
    """How one bank lays out its .xlsx/.csv statement export: which header holds what.

    Column names are the header texts as the bank writes them; they are compared without
    accents, case or extra spaces. ``header_row`` 0 means "find the header row": the first of
    the top 30 rows that holds both the date and the credit header.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    bank_code = models.CharField(_("bank code"), max_length=20, blank=True,
                                 help_text=_("Short name of the bank, e.g. VCB, CTG, BIDV."))
    header_row = models.PositiveSmallIntegerField(_("header row"), default=0,
                                                  help_text=_("Row number of the column headers; 0 finds it automatically."))
    date_column = models.CharField(_("date column"), max_length=100)
    amount_column = models.CharField(_("credit amount column"), max_length=100)
    debit_column = models.CharField(_("debit amount column"), max_length=100, blank=True)
    description_column = models.CharField(_("transfer note column"), max_length=100)
    transaction_id_column = models.CharField(_("bank transaction ID column"), max_length=100)
    payer_column = models.CharField(_("payer name column"), max_length=100, blank=True)
    encoding = models.CharField(_("CSV encoding"), max_length=20, default="utf-8",
                                help_text=_("utf-8, utf-16 or cp1258 (Windows Vietnamese)."))
    date_format = models.CharField(_("date format"), max_length=40, default="%d/%m/%Y",
                                   help_text=_("As Python writes it: %d/%m/%Y is 31/12/2025."))
    is_active = models.BooleanField(_("in use"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("bank statement layout")
        verbose_name_plural = _("bank statement layouts")

    def __str__(self):
        return self.name


class BankAccountQuerySet(ScopedQuerySet):
    scope_field = "unit__path"


class BankAccount(models.Model):
    """A collection account of a unit at a bank; statements are imported into it."""

    unit = models.ForeignKey("organizations.Unit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="bank_accounts")
    bank_name = models.CharField(_("bank"), max_length=100)
    account_number = models.CharField(_("account number"), max_length=34)
    layout = models.ForeignKey(BankLayout, verbose_name=_("statement layout"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BankAccountQuerySet.as_manager()

    class Meta:
        ordering = ["bank_name", "account_number"]
        verbose_name = _("bank account")
        verbose_name_plural = _("bank accounts")
        constraints = [models.UniqueConstraint(fields=["bank_name", "account_number"], name="payments_account_unique")]

    def __str__(self):
        return f"{self.bank_name} {self.account_number}"


class StatementImportQuerySet(ScopedQuerySet):
    scope_field = "bank_account__unit__path"


class StatementImport(models.Model):
    """One uploaded bank statement, imported in the background all-or-nothing; progress and
    counts live here and the job page polls them."""

    bank_account = models.ForeignKey(BankAccount, verbose_name=_("bank account"), on_delete=models.PROTECT, related_name="imports")
    format = models.CharField(_("format"), max_length=10, choices=StatementFormat.choices)
    layout = models.ForeignKey(BankLayout, verbose_name=_("layout"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    file = models.FileField(upload_to="statements/%Y/%m/", max_length=255)
    original_name = models.CharField(_("file name"), max_length=255)
    file_size = models.BigIntegerField(default=0)
    file_sha256 = models.CharField(max_length=64)
    importer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    language = models.CharField(max_length=8, default="vi")
    status = models.CharField(_("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.WAITING)
    phase = models.CharField(max_length=10, choices=Phase.choices, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    new_count = models.PositiveIntegerField(default=0)
    known_count = models.PositiveIntegerField(default=0)
    debit_count = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(default=0)
    queued_count = models.PositiveIntegerField(default=0)
    posted_count = models.PositiveIntegerField(default=0)
    credit_total = models.BigIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = StatementImportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("bank statement import")
        verbose_name_plural = _("bank statement imports")

    def __str__(self):
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def is_running(self) -> bool:
        return self.status in RUNNING_STATUSES

    @property
    def percent(self) -> int:
        if not self.rows_total:
            return 0
        return min(100, int(100 * self.rows_done / self.rows_total))


class BankTransactionQuerySet(ScopedQuerySet):
    scope_field = "bank_account__unit__path"

    def queue(self):
        return self.filter(status=LineStatus.UNMATCHED)


class BankTransaction(models.Model):
    """One credit line of a bank statement: the money a payer sent, as the bank reports it.

    Unique per account by the bank's transaction ID, which makes re-imports change nothing.
    ``suggested_*`` hold the payer the automatic matching found when it could not post
    (closed month, dissolved union), as a hint for the accountant.
    """

    # the unique (bank_account, bank_txn_id) index serves lookups by account; the import that brought a line
    # in is written by the same transaction that creates the line and is never deleted, so that foreign key
    # is not checked row by row by the database (a million deferred checks at commit, see docs/payments.md);
    # the bank account is checked once per INSERT or UPDATE statement over its rows (payments migration 0003)
    bank_account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="transactions", db_index=False,
                                     db_constraint=False)
    statement_import = models.ForeignKey(StatementImport, on_delete=models.PROTECT, related_name="transactions",
                                         db_index=False, db_constraint=False)
    bank_txn_id = models.CharField(_("bank transaction ID"), max_length=64)
    booked_on = models.DateField(_("date"))
    amount = models.BigIntegerField(_("amount (đồng)"))
    description = models.CharField(_("transfer note"), max_length=500, blank=True)
    payer_name = models.CharField(_("payer"), max_length=200, blank=True)
    line_no = models.PositiveIntegerField(_("line"), default=0)
    status = models.CharField(_("status"), max_length=10, choices=LineStatus.choices)
    reason = models.CharField(_("reason"), max_length=20, choices=QueueReason.choices, blank=True)
    reason_detail = models.CharField(max_length=255, blank=True)
    suggested_kind = models.CharField(max_length=10, choices=PayerKind.choices, blank=True)
    suggested_id = models.BigIntegerField(null=True, blank=True)
    matched_by = models.CharField(max_length=6, choices=MatchedBy.choices, blank=True)
    # checked once per statement, not by a foreign key (payments 0006)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                   db_index=False, db_constraint=False)
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = BankTransactionQuerySet.as_manager()

    class Meta:
        ordering = ["-booked_on", "-id"]
        verbose_name = _("bank statement line")
        verbose_name_plural = _("bank statement lines")
        constraints = [
            models.UniqueConstraint(fields=["bank_account", "bank_txn_id"], name="payments_line_unique_bank_id"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payments_line_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["bank_account", "booked_on"], condition=models.Q(status="unmatched"), name="payments_line_queue"),
        ]

    def __str__(self):
        return f"{self.bank_txn_id} · {self.amount:,} đ"

    @property
    def allocated(self) -> int:
        return sum(a.amount for a in self.allocations.all())


class CashReceiptQuerySet(ScopedQuerySet):
    scope_field = "unit__path"


class CashReceipt(models.Model):
    """A receipt (phiếu thu) for cash paid at a unit's office, numbered PT-<unit code>-<year>-<seq>
    without gaps per unit and year."""

    unit = models.ForeignKey("organizations.Unit", verbose_name=_("collecting unit"), on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    seq = models.PositiveIntegerField()
    number = models.CharField(_("receipt number"), max_length=64, unique=True)
    payer_name = models.CharField(_("paid by"), max_length=200)
    amount = models.BigIntegerField(_("amount (đồng)"))
    paid_on = models.DateField(_("date paid"))
    note = models.CharField(_("note"), max_length=255, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CashReceiptQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "-seq"]
        verbose_name = _("cash receipt")
        verbose_name_plural = _("cash receipts")
        constraints = [
            models.UniqueConstraint(fields=["unit", "year", "seq"], name="payments_receipt_unique_seq"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payments_receipt_amount_positive"),
        ]

    def __str__(self):
        return self.number


class ReceiptSequence(models.Model):
    """The last cash receipt number used per unit and year; locked (SELECT … FOR UPDATE) while a
    receipt is numbered, so numbers are gapless and never used twice."""

    unit = models.ForeignKey("organizations.Unit", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["unit", "year"], name="payments_sequence_unique")]


class AllocationQuerySet(ScopedQuerySet):
    scope_field = "unit__path"


class Allocation(models.Model):
    """The part of a payment (a bank line or a cash receipt) that pays one payer's month.

    ``unit`` is the grassroots union the money is for: the employer's union for the union fee,
    the member's unit for dues. ``part`` numbers the allocations of one payment (1, 2, … when
    split); ``external_id`` ("bank:<line>:<part>", "cash:<receipt>:<part>") identifies the
    receipt in the ledger, so posting twice posts once. ``posted_at`` is empty until the ledger
    has taken it.
    """

    # written with its line, in the same statement, from lines that exist: not checked row by row (see above)
    transaction = models.ForeignKey(BankTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations",
                                    db_index=False, db_constraint=False)
    cash_receipt = models.ForeignKey(CashReceipt, null=True, blank=True, on_delete=models.PROTECT, related_name="allocations",
                                     db_index=False, db_constraint=False)
    part = models.PositiveSmallIntegerField(default=1)
    payer_kind = models.CharField(_("payer"), max_length=10, choices=PayerKind.choices)
    # checked once per INSERT or UPDATE statement over its rows (payments migration 0003), not row by row
    unit = models.ForeignKey("organizations.Unit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="+", db_index=False,
                             db_constraint=False)
    member = models.ForeignKey("members.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False,
                               db_constraint=False)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    period = models.DateField(_("month"))  # first day of the month paid for
    paid_on = models.DateField(_("date posted"))
    amount = models.BigIntegerField(_("amount (đồng)"))
    matched_by = models.CharField(max_length=6, choices=MatchedBy.choices)
    posted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AllocationQuerySet.as_manager()

    class Meta:
        ordering = ["period", "id"]
        verbose_name = _("allocation")
        verbose_name_plural = _("allocations")
        constraints = [
            models.UniqueConstraint(fields=["transaction", "part"], name="payments_alloc_line_part"),
            # partial: a bank line's allocation (most of them) has no cash receipt and no entry here
            models.UniqueConstraint(fields=["cash_receipt", "part"], condition=models.Q(cash_receipt__isnull=False),
                                    name="payments_alloc_receipt_part"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payments_allocation_amount_positive"),
            models.CheckConstraint(condition=models.Q(transaction__isnull=False) | models.Q(cash_receipt__isnull=False),
                                   name="payments_allocation_has_payment"),
        ]
        indexes = [
            models.Index(fields=["unit", "source", "period"], name="payments_alloc_unit_period"),
            models.Index(fields=["member", "period"], condition=models.Q(member__isnull=False), name="payments_alloc_member"),
            models.Index(fields=["posted_at"], condition=models.Q(posted_at__isnull=True), name="payments_alloc_unposted"),
        ]

    def __str__(self):
        return f"{self.get_source_display()} {self.period:%m/%Y} · {self.amount:,} đ"

    @property
    def external_id(self) -> str:
        if self.transaction_id:
            return f"bank:{self.transaction_id}:{self.part}"
        return f"cash:{self.cash_receipt_id}:{self.part}"
