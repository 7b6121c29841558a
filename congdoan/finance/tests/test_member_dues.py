"""Members' dues pages: salaries and exemptions entered by finance officials (and imported from Excel),
each month's dues explained, and the member's own dues, payments, receipts and VietQR code.

Scoped like every finance page: another province, a login without a role and a plain member get 404.
"""

import datetime
import io

import pytest
import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from congdoan.audit.models import AuditEntry
from congdoan.core.testing import make_member
from congdoan.finance import importing, member_selectors, services, vietqr
from congdoan.finance.models import DuesExemption, MemberSalary
from congdoan.finance.money import add_months, month_start
from congdoan.finance.references import payment_reference_for
from congdoan.finance.tests.conftest import set_employer_type
from congdoan.members.models import Member
from congdoan.payments.models import Allocation, BankAccount, BankTransaction, CashReceipt, StatementImport

D = datetime.date
THIS_MONTH = month_start(timezone.localdate())
NEXT_MONTH = add_months(THIS_MONTH, 1)
#: the base salary in force since 07/2024 is 2,340,000 đ: the floor is 0.5 % of it, the cap 10 %
FLOOR, CAP = 11_700, 234_000


def salary_page(p, member=None):
    return reverse("finance:member_dues", kwargs={"member": (member or p.member_a).pk})


def post_salary(client, p, month="07/2025", salary="8.000.000", member=None):
    return client.post(salary_page(p, member), {"action": "salary", "salary-valid_from": month, "salary-salary": salary})


def statement_month(statement, month):
    return next(r for r in statement["rows"] if r["month"] == month)


# -- the official's member page ---------------------------------------------------------------------------------------
def test_salary_written_the_vietnamese_way_sets_the_dues(p, client):
    client.force_login(p.accountant_a)
    response = post_salary(client, p, "07/2025", "8.000.000")
    assert response.status_code == 302
    record = MemberSalary.objects.get(member=p.member_a)
    assert (record.valid_from, record.salary, record.created_by) == (D(2025, 7, 1), 8_000_000, p.accountant_a)
    assert AuditEntry.objects.filter(action="finance.member_salary_set", object_id=str(p.member_a.pk)).count() == 1
    response = client.get(salary_page(p) + "?year=2025")
    assert response.status_code == 200
    row = statement_month(response.context["s"], D(2025, 7, 1))
    assert row["owed"] == 40_000 and row["dues"]["basis"] == "rate"  # 0.5 % of 8,000,000
    html = response.content.decode()
    assert "8.000.000 đ" in html and "40.000 đ" in html
    # June 2025 still had the 1 % rate and no salary then: no floor before 07/2025, nothing owed
    assert statement_month(response.context["s"], D(2025, 6, 1))["dues"]["basis"] == "no_salary"
    # correcting the same month changes the record, it does not add one
    post_salary(client, p, "7/2025", "8 500 000 đ")
    assert list(MemberSalary.objects.values_list("salary", flat=True)) == [8_500_000]


@pytest.mark.parametrize("salary,code", [
    ("-5.000.000", "amount_negative"), ("8000000,5", "amount_fraction"), ("8.000.000.5", "amount_fraction"), ("8.00.000", "amount_invalid"),
    ("tám triệu", "amount_invalid"), ("0", "amount_zero"), ("", "required"),
])
def test_bad_salaries_are_refused_and_nothing_is_written(p, client, salary, code):
    client.force_login(p.accountant_a)
    response = post_salary(client, p, "07/2025", salary)
    assert response.status_code == 422
    assert response.context["salary_form"].errors.as_data()["salary"][0].code == code
    assert not MemberSalary.objects.exists() and not AuditEntry.objects.filter(action__startswith="finance.").exists()


@pytest.mark.parametrize("month,code", [(NEXT_MONTH.strftime("%m/%Y"), "month_future"), ("13/2025", "month_invalid"),
                                        ("2025", "month_invalid"), ("", "required")])
def test_bad_salary_months_are_refused(p, client, month, code):
    client.force_login(p.accountant_a)
    response = post_salary(client, p, month, "8.000.000")
    assert response.status_code == 422
    assert response.context["salary_form"].errors.as_data()["valid_from"][0].code == code
    assert not MemberSalary.objects.exists()


def test_exemption_form_and_its_errors(p, client):
    client.force_login(p.grassroots_a_chair)
    url = salary_page(p)
    response = client.post(url, {"action": "exemption", "exemption-first_month": "09/2025", "exemption-last_month": "08/2025",
                                 "exemption-reason": "Nghỉ không lương"})
    assert response.status_code == 422 and "last_month" in response.context["exemption_form"].errors
    response = client.post(url, {"action": "exemption", "exemption-first_month": "09/2025", "exemption-reason": "   "})
    assert response.status_code == 422 and "reason" in response.context["exemption_form"].errors
    assert not DuesExemption.objects.exists()
    response = client.post(url, {"action": "exemption", "exemption-first_month": "09/2025", "exemption-last_month": "10/2025",
                                 "exemption-reason": "Nghỉ thai sản"})
    assert response.status_code == 302
    services.member_salary_set(actor=p.accountant_a, member=p.member_a, valid_from=D(2025, 7, 1), salary=8_000_000)
    statement = client.get(url + "?year=2025").context["s"]
    assert [statement_month(statement, D(2025, m, 1))["owed"] for m in (8, 9, 10, 11)] == [40_000, 0, 0, 40_000]
    september = statement_month(statement, D(2025, 9, 1))["dues"]
    assert september["basis"] == "exempt_member" and september["exemption"].reason == "Nghỉ thai sản"


def test_each_month_says_how_its_dues_came_about(p):
    member = Member.objects.select_related("unit").get(pk=p.member_a.pk)
    for month, salary in ((D(2025, 7, 1), 1_000_000), (D(2025, 8, 1), 60_000_000), (D(2025, 9, 1), 8_000_000)):
        services.member_salary_set(actor=p.accountant_a, member=member, valid_from=month, salary=salary)
    services.unit_dues_rate_set(actor=p.grassroots_a_chair, unit=p.grassroots_a, rate_bp=100, valid_from=D(2025, 10, 1),
                                decision="Nghị quyết Hội nghị đoàn viên 2025")
    rows = {r["month"]: r["dues"] for r in member_selectors.dues_statement(member, year=2025)["rows"]}
    assert (rows[D(2025, 7, 1)]["basis"], rows[D(2025, 7, 1)]["computed"], rows[D(2025, 7, 1)]["total"]) == ("floor", 5_000, FLOOR)
    assert (rows[D(2025, 8, 1)]["basis"], rows[D(2025, 8, 1)]["computed"], rows[D(2025, 8, 1)]["total"]) == ("cap", 300_000, CAP)
    assert (rows[D(2025, 9, 1)]["basis"], rows[D(2025, 9, 1)]["total"]) == ("rate", 40_000)
    october = rows[D(2025, 10, 1)]
    assert (october["standard"], october["extra"], october["total"], october["own_rate_bp"]) == (40_000, 40_000, 80_000, 100)
    assert rows[D(2025, 3, 1)]["basis"] == "no_salary" and rows[D(2025, 3, 1)]["rate_bp"] == 100  # 1 % before 07/2025
    # a state agency's members owe nothing since 06/2025
    set_employer_type(p.grassroots_a, "state_agency")
    member.unit.refresh_from_db()
    rows = {r["month"]: r["dues"] for r in member_selectors.dues_statement(member, year=2025)["rows"]}
    assert rows[D(2025, 9, 1)]["basis"] == "exempt_employer" and rows[D(2025, 9, 1)]["total"] == 0


def test_the_page_prints_the_explanation(p, client):
    services.member_salary_set(actor=p.accountant_a, member=p.member_a, valid_from=D(2025, 8, 1), salary=60_000_000)
    client.force_login(p.province_a_chair)
    html = client.get(salary_page(p) + "?year=2025").content.decode()
    assert "234.000 đ" in html and "300.000 đ" in html and "10 %" in html and "2.340.000 đ" in html


# -- scope -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["province_b_chair", "outsider", "member_user"])
def test_member_pages_are_404_outside_scope(p, client, who):
    client.force_login(p.users[who])
    assert client.get(salary_page(p)).status_code == 404
    assert post_salary(client, p).status_code == 404
    assert client.post(salary_page(p), {"action": "exemption", "exemption-first_month": "09/2025",
                                        "exemption-reason": "x"}).status_code == 404
    assert not MemberSalary.objects.exists() and not DuesExemption.objects.exists()
    html = client.get(reverse("finance:member_list")).content.decode()
    assert "Nguyễn Văn An" not in html and p.member_a.code not in html


def test_a_grassroots_accountant_keeps_only_his_unions_members(p, client):
    client.force_login(p.accountant_a)
    assert client.get(salary_page(p, p.member_a2)).status_code == 404  # PA-G2, a sibling union
    assert post_salary(client, p, member=p.member_a2).status_code == 404
    names = [m.full_name for m in client.get(reverse("finance:member_list")).context["page"]]
    assert names == ["Nguyễn Văn An"]
    assert client.get(reverse("finance:member_list") + f"?unit={p.grassroots_a2.pk}").status_code == 404
    client.force_login(p.province_b_chair)
    assert [m.full_name for m in client.get(reverse("finance:member_list")).context["page"]] == ["Lê Văn Bình"]
    assert client.get(reverse("finance:member_list") + f"?unit={p.grassroots_a.pk}").status_code == 404
    assert client.get(reverse("finance:member_list") + "?q=nguyen").context["page"].paginator.count == 0


def test_member_list_shows_salary_and_this_months_dues(p, client):
    services.member_salary_set(actor=p.accountant_a, member=p.member_a, valid_from=D(2025, 7, 1), salary=8_000_000)
    client.force_login(p.province_a_chair)
    response = client.get(reverse("finance:member_list") + f"?unit={p.upper_a.pk}")
    rows = {m.full_name: m for m in response.context["page"]}
    assert set(rows) == {"Nguyễn Văn An", "Trần Thị Bích"}
    assert rows["Nguyễn Văn An"].salary == 8_000_000 and rows["Nguyễn Văn An"].dues["total"] == 40_000
    assert rows["Trần Thị Bích"].salary is None and rows["Trần Thị Bích"].dues["total"] == FLOOR  # no salary: the floor
    assert client.get(reverse("finance:member_list") + "?q=an").context["page"].paginator.count >= 1


# -- importing salaries --------------------------------------------------------------------------------------------
def xlsx(rows, headers=("Mã đoàn viên", "Số CCCD", "Lương đóng BHXH", "Từ tháng")) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet("Luong")
    sheet.write(0, 0, "DANH SÁCH LƯƠNG ĐÓNG BHXH CỦA ĐOÀN VIÊN")
    sheet.write_row(2, 0, headers)
    month_format = book.add_format({"num_format": "mm/yyyy"})
    for r, row in enumerate(rows, start=3):
        for c, value in enumerate(row):
            if isinstance(value, datetime.date):
                sheet.write_datetime(r, c, datetime.datetime.combine(value, datetime.time()), month_format)
            elif value is not None:
                sheet.write(r, c, value)
    book.close()
    return buffer.getvalue()


def upload(client, data, name="luong.xlsx"):
    return client.post(reverse("finance:salary_import"), {"file": SimpleUploadedFile(name, data)})


def test_import_writes_every_row_by_code_or_citizen_id(p, client):
    a, a2 = Member.objects.get(pk=p.member_a.pk), Member.objects.get(pk=p.member_a2.pk)
    data = xlsx([
        (a.code, None, "8.000.000", "07/2025"),
        (a.code.lower(), None, 9_000_000, D(2025, 10, 1)),
        (None, int(a2.citizen_id), "6,500,000 đ", "2025-07"),  # a number cell: the leading 0 of the CCCD is lost
        (a.code, a.citizen_id, 9_500_000, "11/2025"),
        (None, None, None, None),  # an empty row is skipped
    ])
    client.force_login(p.province_a_chair)
    response = upload(client, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert sorted(MemberSalary.objects.values_list("member_id", "valid_from", "salary")) == sorted([
        (a.pk, D(2025, 7, 1), 8_000_000), (a.pk, D(2025, 10, 1), 9_000_000), (a.pk, D(2025, 11, 1), 9_500_000),
        (a2.pk, D(2025, 7, 1), 6_500_000)])
    batch = AuditEntry.objects.get(action="finance.member_salaries_imported")
    assert batch.changes["created"] == 4 and batch.changes["updated"] == 0 and len(batch.changes["sha256"]) == 64
    assert batch.unit_path == p.upper_a.path  # the nearest unit above both members
    assert AuditEntry.objects.filter(action="finance.member_salary_set").count() == 4
    entry = AuditEntry.objects.filter(action="finance.member_salary_set", object_id=str(a2.pk)).get()
    assert entry.changes == {"salary": [None, 6_500_000], "valid_from": "2025-07-01"} and entry.unit_path == p.grassroots_a2.path
    # the same file again changes nothing; a corrected salary is corrected, not added
    assert upload(client, data).status_code == 302
    assert AuditEntry.objects.filter(action="finance.member_salaries_imported").latest("pk").changes["unchanged"] == 4
    assert upload(client, xlsx([(a.code, None, "8.200.000", "07/2025")])).status_code == 302
    assert MemberSalary.objects.count() == 4 and MemberSalary.objects.get(member=a, valid_from=D(2025, 7, 1)).salary == 8_200_000
    assert AuditEntry.objects.filter(action="finance.member_salaries_imported").latest("pk").changes["updated"] == 1
    assert AuditEntry.objects.filter(action="finance.member_salary_set").count() == 5


def test_import_rechecks_the_scope_inside_its_transaction(p):
    a = Member.objects.get(pk=p.member_a.pk)
    rows, digest = importing.read_salaries(actor=p.accountant_a, data=xlsx([(a.code, None, "8.000.000", "07/2025")]), name="l.xlsx")
    Member.objects.filter(pk=a.pk).update(unit=p.grassroots_a2)  # moved out of the accountant's union meanwhile
    with pytest.raises(Http404):
        importing.member_salaries_import(actor=p.accountant_a, rows=rows, file_name="l.xlsx", file_sha256=digest)
    assert not MemberSalary.objects.exists() and not AuditEntry.objects.filter(action__startswith="finance.").exists()


def test_import_lists_every_error_by_row_and_column_and_writes_nothing(p, client):
    a, b = Member.objects.get(pk=p.member_a.pk), Member.objects.get(pk=p.member_b.pk)
    a2 = Member.objects.get(pk=p.member_a2.pk)
    data = xlsx([
        (a.code, None, "8.000.000", "07/2025"),  # fine, but the file is refused as a whole
        ("DV9999999999", None, "8.000.000", "07/2025"),  # no such member
        (b.code, None, "8.000.000", "07/2025"),  # a member of province B
        (a.code, None, "-8.000.000", "08/2025"),
        (a.code, None, 8_000_000.5, "09/2025"),
        (a.code, None, "8.000.000", NEXT_MONTH.strftime("%m/%Y")),
        (a.code, None, "8.000.000", "07/2025"),  # the same member and month as row 4
        (a.code, a2.citizen_id, "8.000.000", "10/2025"),  # the code and the CCCD are two people
        (None, "12345", "8.000.000", "10/2025"),
        (None, None, "8.000.000", "10/2025"),
        (a.code, None, "8.000.000", "tháng bảy"),
        (a.code, None, None, "12/2024"),
    ])
    client.force_login(p.province_a_chair)
    response = upload(client, data)
    assert response.status_code == 422
    found = [(e["row"], e["column"], e["code"]) for e in response.context["errors"]]
    assert found == [
        (5, "Mã đoàn viên", "member_unknown"), (6, "Mã đoàn viên", "member_unknown"), (7, "Lương đóng BHXH", "amount_negative"),
        (8, "Lương đóng BHXH", "amount_fraction"), (9, "Từ tháng", "month_future"), (10, "Từ tháng", "duplicate_row"),
        (11, "Số CCCD", "member_mismatch"), (12, "Số CCCD", "citizen_id_invalid"), (13, "Mã đoàn viên", "member_required"),
        (14, "Từ tháng", "month_invalid"), (15, "Lương đóng BHXH", "amount_missing"),
    ]
    assert response.context["total"] == 11
    html = response.content.decode()
    assert "Lê Văn Bình" not in html  # the other province's member is unknown, not named
    assert not MemberSalary.objects.exists() and not AuditEntry.objects.filter(action__startswith="finance.").exists()


@pytest.mark.parametrize("data,name,code", [
    (b"Ma doan vien;Luong\nDV1;1000", "luong.csv", "file_type"),
    (b"PK\x03\x04not really a zip", "luong.xlsx", "file_unreadable"),
    ("wrong headers", "luong.xlsx", "headers_missing"),
    ("declarations", "luong.xlsx", "headers_missing"),
    ("empty", "luong.xlsx", "file_empty"),
])
def test_import_file_errors(p, client, data, name, code):
    if data == "wrong headers":
        data = xlsx([("DV1", "1", "07/2025")], headers=("Họ tên", "Tiền", "Kỳ"))
    elif data == "declarations":
        data = xlsx([("PA-G1", "05/2025", "100.000.000")], headers=("Mã CĐCS", "Tháng", "Quỹ lương đóng BHXH"))
    elif data == "empty":
        data = xlsx([])
    with pytest.raises(importing.SalaryImportError) as caught:
        importing.read_salaries(actor=p.province_a_chair, data=data, name=name)
    assert caught.value.code == code
    client.force_login(p.province_a_chair)
    response = upload(client, data, name)
    assert response.status_code == 422 and response.context["form"].errors["file"]
    assert not MemberSalary.objects.exists()


def test_import_page_is_for_finance_officials_only(p, client):
    data = xlsx([(Member.objects.get(pk=p.member_a.pk).code, None, "8.000.000", "07/2025")])
    for who in ("outsider", "member_user"):
        client.force_login(p.users[who])
        assert client.get(reverse("finance:salary_import")).status_code == 404
        assert upload(client, data).status_code == 404
    client.force_login(p.province_b_chair)
    response = upload(client, data)
    assert response.status_code == 422 and [e["code"] for e in response.context["errors"]] == ["member_unknown"]
    assert not MemberSalary.objects.exists()


# -- the member's own dues -------------------------------------------------------------------------------------------
def cash(p, *, member=None, amount=40_000, period=D(2025, 8, 1), paid_on=D(2025, 8, 20), seq=[0]):
    """A cash receipt for a member's dues and its allocation, as payments writes them."""
    member = member or p.member_a
    seq[0] += 1
    receipt = CashReceipt.objects.create(unit=member.unit, year=paid_on.year, seq=seq[0], number=f"PT-{member.unit.code}-{seq[0]:06d}",
                                         payer_name=member.full_name, amount=amount, paid_on=paid_on)
    Allocation.objects.create(cash_receipt=receipt, payer_kind="member", unit=member.unit, member=member, source="dues",
                              period=period, paid_on=paid_on, amount=amount, matched_by="cash")
    return receipt


def bank(p, *, amount=40_000, period=D(2025, 9, 1), paid_on=D(2025, 9, 5), txn="FT25248001"):
    account = BankAccount.objects.get_or_create(unit=p.upper_a, bank_name="Vietcombank", account_number="0011004123456")[0]
    job = StatementImport.objects.get_or_create(bank_account=account, format="csv", original_name="saoke.csv", file_sha256="1" * 64,
                                                status="done")[0]
    line = BankTransaction.objects.create(bank_account=account, statement_import=job, bank_txn_id=txn, booked_on=paid_on,
                                          amount=amount, description="DP T09/2025", status="matched")
    return Allocation.objects.create(transaction=line, payer_kind="member", unit=p.grassroots_a, member=p.member_a, source="dues",
                                     period=period, paid_on=paid_on, amount=amount, matched_by="auto")


def test_my_dues_months_payments_receipts_and_vietqr(p, client):
    services.member_salary_set(actor=p.accountant_a, member=p.member_a, valid_from=D(2025, 7, 1), salary=8_000_000)
    services.collection_account_set(actor=p.province_a_chair, unit=p.province_a, bank_bin="970436", account_number="0011004123456",
                                    account_name="LDLD TINH A")
    mine = cash(p, amount=40_000, period=D(2025, 7, 1))
    bank(p, amount=40_000, period=D(2025, 8, 1))
    others = cash(p, member=p.member_a2, amount=11_700, period=D(2025, 7, 1))
    client.force_login(p.member_user)
    response = client.get(reverse("finance:my_dues") + "?year=2025")
    assert response.status_code == 200
    s = response.context["s"]
    july, august, september = (statement_month(s, D(2025, m, 1)) for m in (7, 8, 9))
    assert (july["owed"], july["paid"], july["unpaid"]) == (40_000, 40_000, 0)
    assert (august["owed"], august["paid"], august["unpaid"]) == (40_000, 40_000, 0)
    assert (september["owed"], september["paid"], september["unpaid"]) == (40_000, 0, 40_000)
    assert s["paid"] == 80_000 and s["to_pay"] == s["owed"] - 80_000 > 0
    html = response.content.decode()
    reference = payment_reference_for(kind="member", payer_id=p.member_a.pk)
    assert reference in html and mine.number in html and others.number not in html and "Trần Thị Bích" not in html
    assert reverse("finance:my_receipt_pdf", kwargs={"receipt": mine.pk}) in html
    fields = vietqr.parse_payload(response.context["payload"])
    assert fields["54"] == str(s["to_pay"]) and reference in fields["62"]
    assert "<svg" in response.context["qr"]
    # his receipt as PDF; another member's is not his
    pdf = client.get(reverse("finance:my_receipt_pdf", kwargs={"receipt": mine.pk}))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert client.get(reverse("finance:my_receipt_pdf", kwargs={"receipt": others.pk})).status_code == 404
    assert client.post(reverse("finance:my_receipt_pdf", kwargs={"receipt": others.pk})).status_code == 404
    assert client.get(reverse("finance:my_receipt_pdf", kwargs={"receipt": 987654})).status_code == 404


def test_my_dues_without_account_or_salary(p, client):
    client.force_login(p.member_user)
    response = client.get(reverse("finance:my_dues"))
    assert response.status_code == 200 and response.context["qr"] == "" and response.context["year"] == THIS_MONTH.year
    # no salary recorded: the lowest dues each month since 07/2025
    assert statement_month(response.context["s"], THIS_MONTH)["owed"] == FLOOR
    assert reverse("finance:my_dues") in client.get(reverse("members:me")).content.decode()


@pytest.mark.parametrize("who", ["province_b_chair", "outsider"])
def test_my_dues_is_404_for_logins_without_a_member_record(p, client, who):
    receipt = cash(p)
    client.force_login(p.users[who])
    assert client.get(reverse("finance:my_dues")).status_code == 404
    assert client.get(reverse("finance:my_receipt_pdf", kwargs={"receipt": receipt.pk})).status_code == 404


def test_a_receipt_is_printed_for_its_unit_finance_officials_too(p, client):
    receipt = cash(p)
    client.force_login(p.accountant_a)
    assert client.get(reverse("finance:my_receipt_pdf", kwargs={"receipt": receipt.pk})).status_code == 200
    client.force_login(p.province_b_chair)
    assert client.get(reverse("finance:my_receipt_pdf", kwargs={"receipt": receipt.pk})).status_code == 404


# -- query counts: the same for 1 row and for 50 -----------------------------------------------------------------------
def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_pages_cost_the_same_queries_for_1_and_50_rows(p, client):
    member = Member.objects.get(pk=p.member_a.pk)

    def grow(n, offset):
        for i in range(offset, offset + n):
            other = make_member(p.grassroots_a, full_name=f"Đoàn Viên {i:02d}")
            services.member_salary_set(actor=p.accountant_a, member=other, valid_from=D(2025, 7, 1), salary=5_000_000 + i)
            services.member_salary_set(actor=p.accountant_a, member=member, valid_from=add_months(D(2021, 1, 1), i), salary=6_000_000 + i)
            services.dues_exemption_create(actor=p.accountant_a, member=member, first_month=add_months(D(2018, 1, 1), i),
                                           last_month=add_months(D(2018, 1, 1), i), reason=f"Lý do {i}")
            cash(p, amount=1_000 + i, period=D(2025, 1 + i % 12, 1), paid_on=D(2025, 1 + i % 12, 20))

    pages = [reverse("finance:member_list"), reverse("finance:member_list") + f"?unit={p.grassroots_a.pk}",
             reverse("finance:member_dues", kwargs={"member": member.pk}) + "?year=2025"]
    grow(1, 0)
    client.force_login(p.province_a_chair)
    one = [_count(client, url) for url in pages]
    client.force_login(p.member_user)
    one.append(_count(client, reverse("finance:my_dues") + "?year=2025"))
    grow(49, 1)
    client.force_login(p.province_a_chair)
    fifty = [_count(client, url) for url in pages]
    client.force_login(p.member_user)
    fifty.append(_count(client, reverse("finance:my_dues") + "?year=2025"))
    assert one == fifty, list(zip([*pages, "my_dues"], one, fifty))
    assert len(client.get(reverse("finance:my_dues") + "?year=2025").context["payments"]) == 50


def test_the_service_refuses_a_salary_from_a_month_not_begun(p):
    """The API and tasks call the service directly: the check lives there, not only in the form."""
    from congdoan.finance.errors import FinanceError

    next_month = add_months(month_start(timezone.localdate()), 1)
    with pytest.raises(FinanceError) as info:
        services.member_salary_set(actor=p.accountant_a, member=p.member_a, valid_from=next_month, salary=8_000_000)
    assert info.value.code == "month_future" and info.value.field == "valid_from"
    assert not MemberSalary.objects.filter(member=p.member_a).exists()
