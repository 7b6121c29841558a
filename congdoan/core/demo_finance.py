"""Finance demo data for `make run`: what the employers of one district declared and paid over the
last months, so the finance, payments and budget pages have something true to show.

Everything goes through the same services as the pages (declarations, receipts posted and split
between levels, a budget drafted by the accountant and approved by the chair, expenses), with the
system as actor; only the amounts are invented.
"""

import datetime
import random

from django.core.files.uploadedfile import SimpleUploadedFile
from fpdf import FPDF

from congdoan.budgets.models import Category
from congdoan.budgets.services import budget_approve, budget_draft, budget_lines_save, expense_approve, expense_record
from congdoan.finance.choices import PayerKind, Source
from congdoan.finance.ledger import receipt_post
from congdoan.finance.references import payment_reference_for
from congdoan.finance.services import collection_account_set, declaration_save
from congdoan.organizations.models import Unit

VIETCOMBANK_BIN = "970436"


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def previous_months(today: datetime.date, count: int) -> list[datetime.date]:
    """The ``count`` whole months before the current one, oldest first."""
    months, month = [], month_start(today)
    for _ in range(count):
        month = (month - datetime.timedelta(days=1)).replace(day=1)
        months.append(month)
    return months[::-1]


def voucher_pdf(number: str, description: str, amount: int) -> SimpleUploadedFile:
    """A one-line payment voucher as the supporting document of a demo expense."""
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=14)
    pdf.cell(text=f"Phieu chi {number} - {amount:,} dong (du lieu mau)")
    return SimpleUploadedFile(f"phieu-chi-{number}.pdf", bytes(pdf.output()), content_type="application/pdf")


def seed_finance(*, rng: random.Random, today: datetime.date, district_code: str, users: dict) -> None:
    district = Unit.objects.get(code=district_code)
    province = district.parent
    collection_account_set(actor=None, unit=province, bank_bin=VIETCOMBANK_BIN, account_number="0011004123456",
                           account_name=f"{province.name}".upper()[:100])
    employers = list(Unit.objects.filter(parent=district, level="grassroots").order_by("code"))
    months = previous_months(today, 6)
    for index, employer in enumerate(employers):
        fund = employer.worker_count * rng.randint(6_000, 9_000) * 1_000  # average SI salary 6–9 million đồng
        # most employers pay every month, the fifth is three months behind, the tenth has never paid
        paid_months = months if index % 5 else months[:-3]
        if index % 10 == 9:
            paid_months = []
        for month in months:
            declaration_save(actor=None, unit=employer, month=month, si_salary_fund=fund, workers=employer.worker_count)
            if month in paid_months:
                paid_on = (month + datetime.timedelta(days=40)).replace(day=rng.randint(5, 20))
                paid_on = min(paid_on, today)
                receipt_post(actor=None, unit=employer, source=Source.UNION_FEE,
                             payer_reference=payment_reference_for(kind=PayerKind.EMPLOYER, payer_id=employer.pk),
                             amount=fund * 2 // 100, paid_on=paid_on, period=month,
                             external_id=f"demo:{employer.code}:{month:%Y-%m}")

    first = employers[0]
    accountant, chair = users["cdcs.ketoan"], users["cdcs.chutich"]
    budget = budget_draft(actor=accountant, unit=first, year=today.year, note="Dự toán năm (dữ liệu mẫu)")
    categories = {c.code: c for c in Category.objects.filter(is_active=True)}
    plan = {c: rng.randint(10, 60) * 1_000_000 for c in categories.values()}
    budget_lines_save(actor=accountant, budget=budget, amounts=plan)
    budget_approve(actor=chair, budget=budget)
    for code, description, amount in (("activities", "Hội thao chào mừng ngày thành lập Công đoàn", 4_500_000),
                                      ("visits", "Thăm hỏi đoàn viên ốm đau", 1_200_000)):
        category = categories.get(code) or next(iter(categories.values()))
        spent_on = max(today.replace(month=1, day=1), month_start(today) - datetime.timedelta(days=10))
        number = f"PC-{rng.randint(100, 999)}"
        expense = expense_record(actor=accountant, unit=first, category=category, amount=amount, spent_on=spent_on,
                                 description=description, document_number=number, document_date=spent_on,
                                 document=voucher_pdf(number, description, amount))
        expense_approve(actor=chair, expense=expense)
