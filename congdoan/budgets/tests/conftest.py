import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from congdoan.budgets import ledger, services
from congdoan.budgets.models import Category
from congdoan.payments.models import Allocation, CashReceipt

#: a whole year in the past, so every date of the tests is a real, past date whatever today is
YEAR = timezone.localdate().year - 1


@pytest.fixture(autouse=True)
def _budgets_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def media(settings):
    return settings.MEDIA_ROOT


def cat(code: str) -> Category:
    return Category.objects.get(code=code)


def pdf(name="phieu-chi-PC01.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", content_type="application/pdf")


def day(month: int, dom: int = 15, year: int = YEAR) -> datetime.date:
    return datetime.date(year, month, dom)


def make_budget(personas, *, unit=None, year=YEAR, amounts=None, drafter=None, approver=None):
    """An approved budget (drafted by the accountant, approved by the chair of the grassroots union)."""
    unit = unit or personas.grassroots_a
    drafter = drafter or personas.accountant_a
    if approver is None:
        approver = personas.grassroots_a_chair
    budget = services.budget_draft(actor=drafter, unit=unit, year=year)
    amounts = amounts if amounts is not None else {"activities": 10_000_000, "visits": 2_000_000}
    services.budget_lines_save(actor=drafter, budget=budget, amounts={cat(code): amount for code, amount in amounts.items()})
    if approver is not False:
        services.budget_approve(actor=approver, budget=budget)
    budget.refresh_from_db()
    return budget


def record(personas, *, actor=None, unit=None, category="activities", amount=1_500_000, spent_on=None, **extra):
    fields = {"description": "Tổ chức Ngày hội Công nhân", "payee": "Nhà văn hóa huyện", "document_number": "PC-01/2025",
              "document_date": spent_on or day(3), "document": pdf()}
    fields.update(extra)
    return services.expense_record(actor=actor or personas.accountant_a, unit=unit or personas.grassroots_a,
                                   category=cat(category), amount=amount, spent_on=spent_on or day(3), **fields)


def receive(personas, *, unit=None, amount=300_000, paid_on=None, source="dues", seq=[0]):
    """A payment received by a unit (a cash receipt and its allocation), as payments writes it."""
    unit = unit or personas.grassroots_a
    paid_on = paid_on or day(2)
    seq[0] += 1
    receipt = CashReceipt.objects.create(unit=unit, year=paid_on.year, seq=seq[0], number=f"PT-{unit.code}-{seq[0]:06d}",
                                         payer_name="Nguyễn Văn An", amount=amount, paid_on=paid_on)
    return Allocation.objects.create(cash_receipt=receipt, payer_kind="member" if source == "dues" else "employer", unit=unit,
                                     member=personas.member_a if source == "dues" else None, source=source,
                                     period=paid_on.replace(day=1), paid_on=paid_on, amount=amount, matched_by="cash")


class FakeLedger:
    """Plays finance's part: records what is posted; refuses what it is told to refuse."""

    def __init__(self):
        self.posted: dict[str, int] = {}
        self.refuse: set[int] = set()

    def post_expense(self, *, actor, expense):
        from congdoan.core.errors import DomainError

        if expense.pk in self.refuse:
            raise DomainError("Kỳ kế toán đã khóa sổ.", code="month_closed")
        self.posted.setdefault(expense.external_id, expense.amount)
        return True


@pytest.fixture
def no_finance(monkeypatch):
    """As if congdoan.finance were not installed (yet): nothing posts, nothing is closed."""
    monkeypatch.setattr(ledger, "_finance", lambda module, name: None)


@pytest.fixture
def revenue_from_payments(monkeypatch):
    """Revenue read from the payments allocations (as before finance keeps books), postings left alone."""
    monkeypatch.setattr(ledger, "revenue_by_quarter", lambda **kwargs: None)


@pytest.fixture
def fake_ledger(monkeypatch):
    fake = FakeLedger()
    monkeypatch.setattr(ledger, "available", lambda: True)
    monkeypatch.setattr(ledger, "post_expense", fake.post_expense)
    return fake
