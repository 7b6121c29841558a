"""The pages: thin views over the services, scoped, constant query counts."""

import datetime

import pytest
from django.urls import reverse

from congdoan.payments.choices import ImportStatus, LineStatus, QueueReason
from congdoan.payments.models import Allocation, BankTransaction, CashReceipt, StatementImport
from congdoan.payments.tests.conftest import upload, vcb_csv, vcb_row
from congdoan.payments.tests.test_reconcile import queued_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(personas, account_a, account_b, fake_ledger):
    """A's data: a statement, a queued line, a cash receipt; B's own queued line."""
    from congdoan.payments import services

    p = personas
    job = services.statement_import_create(actor=p.province_a_chair, account=account_a,
                                           upload=upload(vcb_csv([vcb_row(txn="A1"), vcb_row(txn="A2", note="CHUYEN KHOAN SONG HONG")]), "a.csv"),
                                           fmt="table")
    p.units["job_a"] = services.statement_import_run(job_pk=job.pk)
    p.units["line_a"] = BankTransaction.objects.get(bank_txn_id="A2")
    fee = services.payer_find(actor=p.accountant_a, key="2600123456")
    p.units["receipt_a"] = services.cash_receipt_create(actor=p.accountant_a, unit=p.grassroots_a, payer=fee,
                                                        payer_name="Công ty May Sông Hồng", paid_on=datetime.date(2025, 6, 3),
                                                        parts=[(datetime.date(2025, 5, 1), 800_000)])
    p.units["line_b"] = queued_line(account_b, txn="B1", note="CHUYEN TIEN BINH AN")
    return p


def test_upload_a_statement_and_follow_the_job(world, login):
    client = login(world.province_a_chair)
    response = client.get(reverse("payments:statement_list"))
    assert response.status_code == 200 and "a.csv" in response.content.decode()
    content = vcb_csv([vcb_row(txn="A3", note="MST 2600123456 T6/2025")])
    response = client.post(reverse("payments:statement_list"), {
        "account": world.province_a.bank_accounts.get().pk, "format": "table", "layout": "", "file": upload(content, "b.csv")})
    assert response.status_code == 302
    job = StatementImport.objects.get(original_name="b.csv")
    assert response["Location"] == reverse("payments:statement_detail", kwargs={"job": job.pk})
    assert job.status == ImportStatus.WAITING  # the worker takes it after commit
    response = client.get(response["Location"], headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'id="job-status"' in response.content.decode() and "<html" not in response.content.decode()
    assert 'hx-trigger="every 1s"' in response.content.decode()


def test_upload_errors_are_shown_on_the_form(world, login):
    client = login(world.province_a_chair)
    response = client.post(reverse("payments:statement_list"), {
        "account": world.province_a.bank_accounts.get().pk, "format": "camt053", "file": upload(b"<x/>", "b.csv")})
    assert response.status_code == 200
    assert "camt.053" in response.content.decode()


def test_finished_job_shows_its_errors(world, login):
    from congdoan.payments import services

    job = services.statement_import_create(actor=world.province_a_chair, account=world.province_a.bank_accounts.get(),
                                           upload=upload(vcb_csv([vcb_row(txn="X1", credit="0")]), "bad.csv"), fmt="table")
    services.statement_import_run(job_pk=job.pk)
    html = login(world.province_a_chair).get(reverse("payments:statement_detail", kwargs={"job": job.pk})).content.decode()
    assert "E5" in html and "0" in html


def test_queue_lists_waiting_lines_with_constant_queries(world, login, django_assert_num_queries):
    client = login(world.province_a_chair)
    url = reverse("payments:queue")
    response = client.get(url)
    html = response.content.decode()
    assert "CHUYEN KHOAN SONG HONG" in html and "CHUYEN TIEN BINH AN" not in html
    with django_assert_num_queries(_count(client, url)) as captured:
        client.get(url)
    account = world.province_a.bank_accounts.get()
    for i in range(60):
        queued_line(account, txn=f"Q{i}", note=f"KHONG RO {i}")
    with django_assert_num_queries(len(captured.captured_queries)):
        response = client.get(url)
    assert response.context["page"].paginator.count == 61
    response = client.get(url, {"reason": QueueReason.AMBIGUOUS})
    assert response.context["page"].paginator.count == 0
    response = client.get(url, {"q": "KHONG RO 7"}, headers={"HX-Request": "true"})
    assert response.context["page"].paginator.count == 1 and 'id="results"' in response.content.decode()


def _count(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    return len(ctx.captured_queries)


def test_match_and_split_by_hand_on_the_line_page(world, login):
    client = login(world.province_a_chair)
    line = world.line_a
    url = reverse("payments:line_detail", kwargs={"line": line.pk})
    assert "CHUYEN KHOAN SONG HONG" in client.get(url).content.decode()
    response = client.post(url, {"action": "allocate", "payer": "2600123456", "month_0": "04/2025", "amount_0": "1.000.000",
                                 "month_1": "05/2025", "amount_1": "400.000"})
    assert response.status_code == 200 and "1.500.000" in response.content.decode()  # parts do not add up
    response = client.post(url, {"action": "allocate", "payer": "2600123456", "month_0": "04/2025", "amount_0": "1.000.000",
                                 "month_1": "05/2025", "amount_1": "500.000 đ"})
    assert response.status_code == 302
    line.refresh_from_db()
    assert line.status == LineStatus.MATCHED
    assert list(line.allocations.values_list("period", "amount")) == [(datetime.date(2025, 4, 1), 1_000_000),
                                                                     (datetime.date(2025, 5, 1), 500_000)]


def test_one_month_takes_the_whole_payment(world, login):
    client = login(world.province_a_chair)
    url = reverse("payments:line_detail", kwargs={"line": world.line_a.pk})
    assert client.post(url, {"action": "allocate", "payer": "2600123456", "month_0": "05/2025"}).status_code == 302
    assert Allocation.objects.get(transaction=world.line_a).amount == 1_500_000


def test_mark_for_return_on_the_line_page(world, login):
    client = login(world.province_a_chair)
    url = reverse("payments:line_detail", kwargs={"line": world.line_a.pk})
    response = client.post(url, {"action": "return", "reason": ""})
    assert response.status_code == 200 and 'class="errorlist' in response.content.decode()
    world.line_a.refresh_from_db()
    assert world.line_a.status == LineStatus.UNMATCHED
    assert client.post(url, {"action": "return", "reason": "Chuyển nhầm"}).status_code == 302
    world.line_a.refresh_from_db()
    assert world.line_a.status == LineStatus.TO_RETURN


def test_cash_receipt_page_and_pdf(world, login):
    client = login(world.accountant_a)
    response = client.post(reverse("payments:receipt_create"), {
        "unit": world.grassroots_a.pk, "payer": "2600123456", "payer_name": "Công ty May Sông Hồng", "paid_on": "2025-06-04",
        "month_0": "06/2025", "amount_0": "1.500.000"})
    receipt = CashReceipt.objects.get(number="PT-PA-G1-2025-000002")
    assert response.status_code == 302 and response["Location"] == reverse("payments:receipt_detail", kwargs={"receipt": receipt.pk})
    response = client.get(reverse("payments:receipt_pdf", kwargs={"receipt": receipt.pk}))
    assert response["Content-Type"] == "application/pdf" and response.content.startswith(b"%PDF")
    assert "PT-PA-G1-2025-000002" in client.get(reverse("payments:receipt_list")).content.decode()
    response = client.post(reverse("payments:receipt_create"), {
        "unit": world.grassroots_a.pk, "payer": "2600123456", "payer_name": "X", "paid_on": "2025-06-04",
        "month_0": "06/2025", "amount_0": "-5"})
    assert response.status_code == 200 and CashReceipt.objects.count() == 2


def test_arrears_pages(world, login, fake_ledger, django_assert_num_queries):
    fake_ledger.owed[(world.grassroots_a.pk, datetime.date(2025, 1, 1))] = 5_000_000  # paid 2.3 M: 2.7 M in arrears, 5 months old
    client = login(world.province_a_chair)
    url = reverse("payments:arrears") + "?as_of=06/2025"
    html = client.get(url).content.decode()
    assert "Công ty May Sông Hồng" in html and "2.700.000 đ" in html and "5.000.000 đ" in html
    assert "bucket=m3to6" in html and reverse("payments:received") in html
    response = client.get(url + "&bucket=m3to6", headers={"HX-Request": "true"})
    assert [r["pk"] for r in response.context["page"]] == [world.grassroots_a.pk]
    html = client.get(reverse("payments:arrears_employer", kwargs={"employer": world.grassroots_a.pk}) + "?as_of=06/2025").content.decode()
    assert "01/2025" in html and "PT-PA-G1-2025-000001" in html
    received = client.get(reverse("payments:received") + f"?unit={world.province_a.pk}")
    assert received.context["page"].paginator.count == Allocation.objects.filter(unit__path__startswith=world.province_a.path).count()
    # the number of queries does not grow with the employers
    queries = _count(client, url)
    from congdoan.organizations.services import unit_create

    for i in range(30):
        unit_create(actor=None, parent=world.upper_a, level="grassroots", code=f"PA-X{i}", name=f"Công đoàn cơ sở X{i}",
                    employer_type="domestic_private", employer_tax_code=f"{3000000000 + i}")
    with django_assert_num_queries(queries):
        client.get(url)


def test_accounts_and_layouts_pages(world, login):
    client = login(world.province_a_chair)
    response = client.post(reverse("payments:account_list"), {"unit": world.province_a.pk, "bank_name": "BIDV",
                                                               "account_number": "1234 5678 90", "layout": ""})
    assert response.status_code == 302
    assert world.province_a.bank_accounts.filter(account_number="1234567890").exists()
    response = client.post(reverse("payments:account_list"), {"unit": world.province_a.pk, "bank_name": "bidv",
                                                               "account_number": "1234567890"})
    assert response.status_code == 200 and 'class="errorlist' in response.content.decode()
    assert world.province_a.bank_accounts.filter(account_number="1234567890").count() == 1
    assert client.post(reverse("payments:layout_list"), {"name": "X"}).status_code == 404  # only the national level edits
    client = login(world.national_chair)
    response = client.post(reverse("payments:layout_list"), {
        "name": "Techcombank", "bank_code": "TCB", "header_row": 0, "date_column": "Ngày", "amount_column": "Có",
        "description_column": "Nội dung", "transaction_id_column": "Mã GD", "encoding": "utf-8", "date_format": "%d/%m/%Y",
        "is_active": "on"})
    assert response.status_code == 302
    response = client.post(reverse("payments:layout_list"), {
        "name": "Bad", "header_row": 0, "date_column": "Ngày", "amount_column": "Có", "description_column": "N",
        "transaction_id_column": "M", "encoding": "klingon", "date_format": "%d/%m/%Y"})
    assert response.status_code == 200 and 'class="errorlist' in response.content.decode()
    from congdoan.payments.models import BankLayout

    assert BankLayout.objects.filter(name="Techcombank").exists() and not BankLayout.objects.filter(name="Bad").exists()


# -- scoping: what lies in province A is invisible to province B and to others -------------------------
OBJECT_PAGES = [("payments:statement_detail", "job", "job_a"), ("payments:line_detail", "line", "line_a"),
                ("payments:receipt_detail", "receipt", "receipt_a"), ("payments:receipt_pdf", "receipt", "receipt_a"),
                ("payments:arrears_employer", "employer", "grassroots_a")]
PLAIN_PAGES = ["payments:statement_list", "payments:queue", "payments:account_list", "payments:layout_list",
               "payments:receipt_list", "payments:receipt_create", "payments:arrears", "payments:received"]


def _state():
    return (list(BankTransaction.objects.order_by("pk").values_list("pk", "status")), Allocation.objects.count(),
            CashReceipt.objects.count(), StatementImport.objects.count())


@pytest.mark.parametrize("name,kwarg,attr", OBJECT_PAGES)
def test_object_pages_of_a_are_404_for_others(world, client, name, kwarg, attr):
    url = reverse(name, kwargs={kwarg: getattr(world, attr).pk})
    assert client.get(url).status_code == 302  # anonymous: to the login page
    before = _state()
    for who in ("province_b_chair", "outsider", "member_user"):
        client.force_login(world.users[who])
        assert client.get(url).status_code == 404, who
        response = client.post(url, {"action": "allocate", "payer": "2600123456", "month_0": "05/2025", "reason": "x"})
        assert response.status_code == 404, who
    assert _state() == before
    client.force_login(world.province_a_chair)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("name", PLAIN_PAGES)
def test_plain_pages_show_nothing_of_a(world, client, name):
    url = reverse(name)
    markers = ["CHUYEN KHOAN SONG HONG", "Công ty May Sông Hồng", "PT-PA-G1", "a.csv", "0011004123456", "2600123456"]
    client.force_login(world.province_b_chair)
    for response in (client.get(url), client.get(url, headers={"HX-Request": "true"}),
                     client.get(url + f"?unit={world.province_a.pk}")):
        assert response.status_code in (200, 404)
        assert not [m for m in markers if m in response.content.decode()], name
    for who in ("outsider", "member_user"):
        client.force_login(world.users[who])
        assert client.get(url).status_code == 404
        assert client.post(url, {"unit": world.grassroots_a.pk, "payer": "2600123456"}).status_code == 404
    client.force_login(world.province_a_chair)
    assert client.get(url).status_code == 200


def test_b_chair_cannot_import_into_a_or_record_cash_for_a(world, client):
    before = _state()
    client.force_login(world.province_b_chair)
    client.post(reverse("payments:statement_list"), {"account": world.province_a.bank_accounts.get().pk, "format": "table",
                                                     "file": upload(vcb_csv([vcb_row(txn="Z")]), "z.csv")})
    client.post(reverse("payments:receipt_create"), {"unit": world.grassroots_a.pk, "payer": "2600123456", "payer_name": "X",
                                                     "paid_on": "2025-06-04", "month_0": "06/2025", "amount_0": "1000"})
    client.post(reverse("payments:account_list"), {"unit": world.grassroots_a.pk, "bank_name": "X", "account_number": "1"})
    assert _state() == before
    assert not world.grassroots_a.bank_accounts.exists()
