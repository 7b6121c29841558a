"""The finance pages: scoped (404 outside), forms with coded errors, the import, the notice's QR, constant query counts."""

import datetime
import io

import pytest
import xlsxwriter
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from congdoan.finance import services, vietqr
from congdoan.finance.importing import DeclarationImportError, read_declarations
from congdoan.finance.models import (
    CollectionAccount, Entry, FeeRelief, Period, Receipt, Rule, SalaryFundDeclaration, Transaction,
)
from congdoan.finance.references import payment_reference_for
from congdoan.organizations.services import unit_create

D = datetime.date


def xlsx(rows, headers=("Mã CĐCS", "Tháng", "Quỹ lương đóng BHXH", "Số lao động"), title=True) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer)
    sheet = book.add_worksheet("Khai bao")
    start = 0
    if title:
        sheet.write(0, 0, "BẢNG KÊ QUỸ LƯƠNG ĐÓNG BHXH")
        start = 2
    sheet.write_row(start, 0, headers)
    date_format = book.add_format({"num_format": "mm/yyyy"})
    for r, row in enumerate(rows, start=start + 1):
        for c, value in enumerate(row):
            if isinstance(value, datetime.date):
                sheet.write_datetime(r, c, datetime.datetime.combine(value, datetime.time()), date_format)
            elif value is not None:
                sheet.write(r, c, value)
    book.close()
    return buffer.getvalue()


# -- who sees what ---------------------------------------------------------------------------------------------
def urls(p):
    return {
        "home": reverse("finance:home"), "rules": reverse("finance:rule_list"), "declarations": reverse("finance:declaration_list"),
        "import": reverse("finance:declaration_import"), "reliefs": reverse("finance:relief_list"),
        "accounts": reverse("finance:collection_accounts"),
        "notice": reverse("finance:notice", kwargs={"employer": p.grassroots_a.pk}),
        "journal": reverse("finance:journal", kwargs={"unit": p.grassroots_a.pk}),
        "balances": reverse("finance:balances", kwargs={"unit": p.grassroots_a.pk}),
        "periods": reverse("finance:periods", kwargs={"unit": p.grassroots_a.pk}),
    }


def test_pages_open_for_finance_officials_of_the_unit(p, client):
    for who in ("province_a_chair", "accountant_a", "national_chair"):
        client.force_login(p.users[who])
        for name, url in urls(p).items():
            response = client.get(url)
            assert response.status_code == 200, (who, name)


def test_pages_are_404_outside_scope(p, client):
    object_pages = ("notice", "journal", "balances", "periods")
    for who in ("province_b_chair", "outsider", "member_user"):
        client.force_login(p.users[who])
        for name, url in urls(p).items():
            if who == "province_b_chair" and name not in object_pages:
                continue  # B has finance pages of its own; they hold nothing of A (below)
            assert client.get(url).status_code == 404, (who, name)
            assert client.post(url, {"month": "2025-05-01", "transaction": 1}).status_code == 404, (who, name)
    # a sub-union keeps no books
    client.force_login(p.province_a_chair)
    assert client.get(reverse("finance:journal", kwargs={"unit": p.sub_union_a.pk})).status_code == 404
    assert client.get(reverse("finance:notice", kwargs={"employer": p.upper_a.pk})).status_code == 404


def test_lists_of_b_hold_nothing_of_a(p, client, declare):
    declare(month=D(2025, 5, 1))
    services.fee_relief_create(actor=p.province_a_chair, unit=p.grassroots_a, kind="exemption", first_month=D(2025, 1, 1),
                               last_month=D(2025, 2, 1), decision="QĐ 1")
    services.collection_account_set(actor=p.province_a_chair, unit=p.province_a, bank_bin="970436", account_number="0011004123456",
                                    account_name="LDLD TINH A")
    client.force_login(p.province_b_chair)
    for url in (reverse("finance:home"), reverse("finance:declaration_list"), reverse("finance:relief_list"),
                reverse("finance:collection_accounts") + "?q=PA"):
        html = client.get(url).content.decode()
        for marker in ("PA-G1", "Công ty May Sông Hồng", "0011004123456", p.province_a.name):
            assert marker not in html, (url, marker)
    # and a form naming A's unit is refused without writing
    response = client.post(reverse("finance:declaration_list"), {"unit": p.grassroots_a.pk, "month": "06/2025", "si_salary_fund": "100"})
    assert response.status_code == 422 and SalaryFundDeclaration.objects.count() == 1


# -- rules ----------------------------------------------------------------------------------------------------
def test_rules_page_shows_the_rules_and_only_national_edits(p, client):
    client.force_login(p.province_a_chair)
    html = client.get(reverse("finance:rule_list")).content.decode()
    assert "50/2024/QH15" in html and "2.340.000 đ" in html and "0,5 %" in html and 'name="rule-value"' not in html
    assert client.post(reverse("finance:rule_list"), {"action": "rule", "rule-kind": "base_salary"}).status_code == 404
    client.force_login(p.national_chair)
    response = client.post(reverse("finance:rule_list"), {
        "action": "rule", "rule-kind": "dues_rate", "rule-value": "0,6", "rule-valid_from": "2027-01-01", "rule-legal_basis": "QĐ x/QĐ-TLĐ"})
    assert response.status_code == 302
    assert Rule.objects.get(kind="dues_rate", valid_from=D(2027, 1, 1)).value == 60
    response = client.post(reverse("finance:rule_list"), {
        "action": "shares", "shares-kind": "dues_share", "shares-valid_from": "2027-01-01", "shares-legal_basis": "QĐ y",
        "shares-share_grassroots": "70", "shares-share_upper_grassroots": "15", "shares-share_province": "10", "shares-share_national": "4"})
    assert response.status_code == 200 and "10.000" in response.content.decode()  # the sum is wrong: 99 %
    assert not Rule.objects.filter(kind="dues_share", valid_from=D(2027, 1, 1)).exists()


# -- declarations --------------------------------------------------------------------------------------------------
def test_declaration_form(p, client):
    client.force_login(p.accountant_a)
    response = client.post(reverse("finance:declaration_list"), {"unit": p.grassroots_a.pk, "month": "05/2025",
                                                                 "si_salary_fund": "123.456.789 đ", "workers": "50"})
    assert response.status_code == 302
    declaration = SalaryFundDeclaration.objects.get()
    assert (declaration.si_salary_fund, declaration.workers, declaration.month) == (123_456_789, 50, D(2025, 5, 1))
    html = client.get(reverse("finance:declaration_list")).content.decode()
    assert "2.469.136 đ" in html  # the fee owed, 2 % rounded to the đồng
    for bad in ("0", "-5", "1.234,5", "abc"):
        response = client.post(reverse("finance:declaration_list"), {"unit": p.grassroots_a.pk, "month": "06/2025", "si_salary_fund": bad})
        assert response.status_code == 422, bad
    response = client.post(reverse("finance:declaration_list"), {"unit": p.grassroots_a.pk, "month": "12/2099", "si_salary_fund": "5"})
    assert response.status_code == 422
    assert SalaryFundDeclaration.objects.count() == 1


def test_declaration_import_writes_all_rows(p, client):
    client.force_login(p.province_a_chair)
    data = xlsx([("PA-G1", "05/2025", "100.000.000", 40), ("PA-G2", D(2025, 5, 1), 50_000_000, None),
                 (None, None, None, None), ("pa-g1", "2025-06", "120,000,000 đ", "41")])
    response = client.post(reverse("finance:declaration_import"), {"file": SimpleUploadedFile("kb.xlsx", data)})
    assert response.status_code == 302
    assert sorted(SalaryFundDeclaration.objects.values_list("unit__code", "month", "si_salary_fund", "workers", "source")) == [
        ("PA-G1", D(2025, 5, 1), 100_000_000, 40, "xlsx"), ("PA-G1", D(2025, 6, 1), 120_000_000, 41, "xlsx"),
        ("PA-G2", D(2025, 5, 1), 50_000_000, None, "xlsx")]


def test_declaration_import_by_tax_code(p):
    rows, _digest = read_declarations(actor=p.province_a_chair, data=xlsx([(2600123456, "5/2025", 1_000_000)],
                                                                         headers=("Mã số thuế", "Tháng", "Quỹ lương")), name="a.xlsx")
    assert [(u.code, m, f) for _r, u, m, f, _w in rows] == [("PA-G1", D(2025, 5, 1), 1_000_000)]


def test_declaration_import_lists_every_error_and_writes_nothing(p, client, declare):
    declare(month=D(2025, 3, 1))
    services.period_close(actor=p.province_a_chair, unit=p.grassroots_a, month=D(2025, 3, 1))
    data = xlsx([
        ("PA-G1", "05/2025", "100.000.000", 40),  # fine, but the file is refused as a whole
        ("PB-G1", "05/2025", "1.000", None),  # another province's union
        ("PA-G1", "13/2025", "1.000", None),
        ("PA-G2", "05/2025", "0", None),
        ("PA-G2", "06/2025", "-1.000", None),
        ("PA-G2", "07/2025", "1.234,5", None),
        ("PA-G1", "05/2025", "2.000", None),  # the same month again
        ("PA-G1", "03/2025", "2.000", None),  # a closed month
        ("PA-G2", "08/2025", "10", "mười"),
        ("", "09/2025", "10", None),
        ("PA-G2", "01/2099", "10", None),
    ])
    with pytest.raises(DeclarationImportError) as exc:
        read_declarations(actor=p.province_a_chair, data=data, name="kb.xlsx")
    assert [(e["row"], e["code"]) for e in exc.value.errors] == [
        (5, "unit_unknown"), (6, "month_invalid"), (7, "amount_zero"), (8, "amount_negative"), (9, "amount_fraction"),
        (10, "duplicate_row"), (11, "period_closed"), (12, "workers_invalid"), (13, "unit_required"), (14, "month_future")]
    client.force_login(p.province_a_chair)
    response = client.post(reverse("finance:declaration_import"), {"file": SimpleUploadedFile("kb.xlsx", data)})
    assert response.status_code == 422 and "PB-G1" in response.content.decode()
    assert SalaryFundDeclaration.objects.count() == 1  # only the one declared before


@pytest.mark.parametrize("data,name,code", [
    (b"a,b,c\n1,2,3\n", "kb.csv", "file_type"),
    (b"PK\x03\x04not really a zip", "kb.xlsx", "file_unreadable"),
    (None, "kb.xlsx", "headers_missing"),
    ("empty", "kb.xlsx", "file_empty"),
])
def test_declaration_import_file_errors(p, data, name, code):
    if data is None:
        data = xlsx([("PA-G1", "05/2025", "1")], headers=("Đơn vị", "Kỳ lương", "Tiền"))
    elif data == "empty":
        data = xlsx([])
    with pytest.raises(DeclarationImportError) as exc:
        read_declarations(actor=p.province_a_chair, data=data, name=name)
    assert exc.value.code == code


# -- notice and QR ------------------------------------------------------------------------------------------------
def test_notice_shows_what_is_owed_and_a_valid_vietqr(p, client, declare):
    declare(month=D(2025, 4, 1), fund=50_000_000)  # 1,000,000 unpaid from April
    declare(month=D(2025, 5, 1), fund=100_000_000)  # 2,000,000
    services.receipt_post(actor=p.accountant_a, unit=p.grassroots_a, source="union_fee", amount=400_000, paid_on=D(2025, 5, 10),
                          payer_reference="", external_id="bank:9:1", period=D(2025, 5, 1))
    client.force_login(p.accountant_a)
    url = reverse("finance:notice", kwargs={"employer": p.grassroots_a.pk}) + "?month=05/2025"
    html = client.get(url).content.decode()
    assert "No collection account" in html or "tài khoản" in html.lower()
    services.collection_account_set(actor=p.province_a_chair, unit=p.province_a, bank_bin="970436", account_number="0011004123456",
                                    account_name="LDLD TINH A")
    response = client.get(url)
    html = response.content.decode()
    reference = payment_reference_for(kind="employer", payer_id=p.grassroots_a.pk)
    assert reference in html and "<svg" in html and "2.600.000 đ" in html  # 1,000,000 + 2,000,000 − 400,000
    fields = vietqr.parse_payload(response.context["payload"])
    assert fields["54"] == "2600000"
    assert vietqr.parse_template(fields["62"])["08"] == f"{reference} T05/2025"


# -- ledger pages ------------------------------------------------------------------------------------------------------
def test_journal_reverse_and_balances(p, client):
    txn = services.receipt_post(actor=p.accountant_a, unit=p.grassroots_a, source="union_fee", amount=1_500_000, paid_on=D(2025, 6, 2),
                                payer_reference="", external_id="bank:1:1")
    client.force_login(p.accountant_a)
    journal = reverse("finance:journal", kwargs={"unit": p.grassroots_a.pk})
    html = client.get(journal).content.decode()
    assert "1.500.000 đ" in html and "1.125.000 đ" in html
    response = client.post(journal, {"transaction": txn.pk, "date": "2025-07-01"})
    assert response.status_code == 302
    assert Transaction.objects.filter(reverses=txn).exists()
    html = client.get(reverse("finance:balances", kwargs={"unit": p.grassroots_a.pk}) + "?on=2025-06-30").content.decode()
    assert "1.500.000 đ" in html
    # B cannot reverse A's transaction from its own journal either
    client.force_login(p.province_b_chair)
    other = reverse("finance:journal", kwargs={"unit": p.grassroots_b.pk})
    response = client.post(other, {"transaction": txn.pk}, follow=True)
    assert Transaction.objects.filter(reverses=txn).count() == 1


def test_receipts_of_a_summary_transaction_are_listed_and_reversed_one_by_one(p, client):
    from congdoan.finance.bulk import ReceiptIn, receipts_post_bulk

    def receipt(key, unit, amount):
        return ReceiptIn(key=key, unit_id=unit.pk, source="union_fee", amount=amount, paid_on=D(2025, 6, 2), external_id=f"bank:{key}:1")

    receipts_post_bulk(actor=None, receipts=[receipt(1, p.grassroots_a, 1_500_000), receipt(2, p.grassroots_a, 800_000),
                                             receipt(3, p.grassroots_a2, 300_000)])
    summary = Transaction.objects.get()
    client.force_login(p.accountant_a)
    html = client.get(reverse("finance:journal", kwargs={"unit": p.grassroots_a.pk})).content.decode()
    url = reverse("finance:transaction_receipts", kwargs={"unit": p.grassroots_a.pk, "transaction": summary.pk})
    assert url in html and 'name="transaction"' not in html  # the province's summary: no reversal of it from a union's journal
    html = client.get(url).content.decode()
    assert "bank:1:1" in html and "bank:2:1" in html and "bank:3:1" not in html  # the other union's receipt is not shown
    first, other = Receipt.objects.get(external_id="bank:1:1"), Receipt.objects.get(external_id="bank:3:1")
    assert client.post(url, {"receipt": other.pk}).status_code == 404
    response = client.post(url, {"receipt": first.pk, "date": "2025-06-05", "memo": "Nhầm đơn vị"})
    assert response.status_code == 302
    negative = Receipt.objects.get(reversal_of=first)
    assert negative.amount == -1_500_000 and negative.transaction.memo == "Nhầm đơn vị"
    assert "đã đảo" in client.get(url).content.decode()  # "reversed"
    twice = client.post(url, {"receipt": first.pk}, follow=True)  # twice: refused with a message, nothing posted
    assert Receipt.objects.filter(reversal_of=first).count() == 1
    assert [m.level_tag for m in twice.context["messages"]] == ["error"]
    second = Receipt.objects.get(external_id="bank:2:1")
    response = client.post(url, {"receipt": second.pk, "date": "31/02/2025"}, follow=True)  # no such date: said, nothing posted
    assert not Receipt.objects.filter(reversal_of=second).exists()
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    client.force_login(p.province_b_chair)
    assert client.get(url).status_code == 404
    # the same queries for 1 receipt and for 30
    client.force_login(p.province_a_chair)
    url_a = reverse("finance:transaction_receipts", kwargs={"unit": p.province_a.pk, "transaction": summary.pk})
    few = _count(client, url_a)
    receipts_post_bulk(actor=None, receipts=[receipt(10 + i, p.grassroots_a2, 1000 + i) for i in range(30)])
    many_txn = Receipt.objects.get(external_id="bank:10:1").transaction
    many = _count(client, reverse("finance:transaction_receipts", kwargs={"unit": p.province_a.pk, "transaction": many_txn.pk}))
    assert many == few


def test_period_close_page(p, client):
    services.receipt_post(actor=p.accountant_a, unit=p.grassroots_a, source="union_fee", amount=10, paid_on=D(2025, 6, 2),
                          payer_reference="", external_id="bank:1:1")
    client.force_login(p.accountant_a)
    url = reverse("finance:periods", kwargs={"unit": p.grassroots_a.pk})
    assert "06/2025" in client.get(url).content.decode()
    assert client.post(url, {"month": "2025-07-01"}).status_code == 302
    assert list(Period.objects.filter(unit=p.grassroots_a).values_list("month", flat=True).order_by("month")) == [D(2025, 6, 1),
                                                                                                                    D(2025, 7, 1)]
    assert client.post(url, {"month": "2025-07-01"}).status_code == 422  # no longer a choice


def test_relief_and_collection_account_forms(p, client):
    client.force_login(p.province_a_chair)
    response = client.post(reverse("finance:relief_list"), {"unit": p.grassroots_a.pk, "kind": "reduction", "first_month": "01/2025",
                                                            "last_month": "03/2025", "reduction": "50", "decision": "QĐ 5/LĐLĐ"})
    assert response.status_code == 302 and FeeRelief.objects.get().reduction_bp == 5000
    response = client.post(reverse("finance:relief_list"), {"unit": p.grassroots_a.pk, "kind": "exemption", "first_month": "01/2025",
                                                            "last_month": "03/2026", "decision": "QĐ 6"})
    assert response.status_code == 422 and FeeRelief.objects.count() == 1
    response = client.post(reverse("finance:collection_accounts"), {"unit": p.province_a.pk, "bank_bin": "970436",
                                                                    "account_number": "0011 0041 23456", "account_name": "LĐLĐ tỉnh A"})
    assert response.status_code == 302 and CollectionAccount.objects.get().account_number == "0011004123456"


# -- query counts: the same for 1 row and for 50 -----------------------------------------------------------------------
def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_list_pages_cost_the_same_queries_for_1_and_50_rows(p, client):
    client.force_login(p.province_a_chair)
    pages = [reverse("finance:home"), reverse("finance:declaration_list"), reverse("finance:relief_list"),
             reverse("finance:collection_accounts"), reverse("finance:journal", kwargs={"unit": p.grassroots_a.pk}),
             reverse("finance:balances", kwargs={"unit": p.grassroots_a.pk}) + "?on=2025-12-31",
             reverse("finance:periods", kwargs={"unit": p.grassroots_a.pk}), reverse("finance:rule_list")]

    def grow(n, offset):
        for i in range(offset, offset + n):
            unit = unit_create(actor=None, parent=p.upper_a, level="grassroots", code=f"PA-X{i}", name=f"CĐCS {i}",
                               employer_type="fdi")
            services.declaration_save(actor=p.province_a_chair, unit=unit, month=D(2025, 2 + i % 11, 1), si_salary_fund=1_000 + i)
            services.fee_relief_create(actor=p.province_a_chair, unit=unit, kind="exemption", first_month=D(2025, 1, 1),
                                       last_month=D(2025, 1, 1), decision=f"QĐ {i}")
            services.collection_account_set(actor=p.province_a_chair, unit=unit, bank_bin="970436", account_number=f"{i:010d}",
                                            account_name="X")
            services.receipt_post(actor=p.province_a_chair, unit=p.grassroots_a, source="union_fee", amount=1_000 + i,
                                  paid_on=D(2025, 2 + i % 11, 1), payer_reference="", external_id=f"bank:{i}:1")
            services.ledger_post(actor=p.province_a_chair, unit=p.grassroots_a, date=D(2025, 2 + i % 11, 2),
                                 lines=[(f"611.c{i}", 5, 0), ("112", 0, 5)])

    grow(1, 0)
    services.period_close(actor=p.province_a_chair, unit=p.grassroots_a, month=D(2025, 1, 1))
    one = [_count(client, url) for url in pages]
    grow(49, 1)
    fifty = [_count(client, url) for url in pages]
    assert one == fifty, list(zip(pages, one, fifty))
    assert Entry.objects.filter(unit=p.grassroots_a).count() > 50


def test_a_summary_reversed_by_the_province_shows_reversed_in_the_unions_journal(p, client):
    """The province reverses a statement's summary as a whole; its reversal is the province's transaction, out of
    a union official's scope, but its lines are in the union's books: the union's journal marks the summary reversed."""
    from congdoan.finance.bulk import ReceiptIn, receipts_post_bulk

    receipts_post_bulk(actor=None, receipts=[ReceiptIn(key=1, unit_id=p.grassroots_a.pk, source="union_fee", amount=1_500_000,
                                                       paid_on=D(2025, 6, 2), external_id="bank:1:1")])
    summary = Transaction.objects.get()
    url = reverse("finance:journal", kwargs={"unit": p.grassroots_a.pk})
    client.force_login(p.accountant_a)
    assert "đã đảo" not in client.get(url).content.decode()
    services.transaction_reverse(actor=p.province_a_chair, transaction=summary, date=D(2025, 6, 5), memo="Sai sao kê")
    html = client.get(url).content.decode()
    assert f"#{summary.pk}" in html and "đã đảo" in html  # "reversed"
    client.force_login(p.province_a_chair)
    assert "đã đảo" in client.get(reverse("finance:journal", kwargs={"unit": p.province_a.pk})).content.decode()
