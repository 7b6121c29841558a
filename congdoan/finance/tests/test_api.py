"""Finance in the JSON API: scoped like the pages, errors with codes, money in whole đồng."""

import datetime
import json

import pytest

from congdoan.finance import services, vietqr
from congdoan.finance.models import SalaryFundDeclaration
from congdoan.finance.references import payment_reference_for

D = datetime.date
BASE = "/api-finance-test/finance"


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = "congdoan.finance.tests.api_urls"


@pytest.fixture
def api(client):
    def call(user, method, url, body=None):
        client.force_login(user)
        if method == "post":
            client.get("/accounts/security/")
            token = client.cookies["csrftoken"].value
            return client.post(BASE + url, data=json.dumps(body), content_type="application/json", headers={"X-CSRFToken": token})
        return client.get(BASE + url)
    return call


def test_declare_then_read_owed_arrears_and_notice(p, api):
    response = api(p.accountant_a, "post", "/declarations", {"unit_id": p.grassroots_a.pk, "month": "2025-05-20",
                                                             "si_salary_fund": 123_456_789, "workers": 40})
    assert response.status_code == 201, response.content
    assert response.json()["month"] == "2025-05-01" and SalaryFundDeclaration.objects.get().source == "api"
    owed = api(p.province_a_chair, "get", f"/owed?unit={p.province_a.pk}&start=2025-01-01&end=2025-12-01").json()
    assert owed == [{"unit_id": p.grassroots_a.pk, "month": "2025-05-01", "amount": 2_469_136}]
    report = api(p.province_a_chair, "get", f"/arrears?unit={p.province_a.pk}&as_of=2025-09-01").json()
    row = next(r for r in report["rows"] if r["unit_id"] == p.grassroots_a.pk)
    assert row["arrears"] == 2_469_136 and row["buckets"] == {"m3to6": 2_469_136} and report["in_arrears"] == 1
    months = api(p.accountant_a, "get", f"/employers/{p.grassroots_a.pk}/months?as_of=2025-06-01").json()
    assert months[0] == {"month": "2025-05-01", "owed": 2_469_136, "paid": 0, "balance": 2_469_136, "unpaid": 2_469_136,
                         "bucket": "upto3"}
    services.collection_account_set(actor=p.province_a_chair, unit=p.province_a, bank_bin="970436", account_number="0011004123456",
                                    account_name="LDLD TINH A")
    notice = api(p.accountant_a, "get", f"/employers/{p.grassroots_a.pk}/notice?month=2025-05-01").json()
    assert notice["reference"] == payment_reference_for(kind="employer", payer_id=p.grassroots_a.pk) and notice["amount"] == 2_469_136
    assert vietqr.parse_payload(notice["vietqr"])["54"] == "2469136"


def test_balances(p, api):
    services.receipt_post(actor=p.accountant_a, unit=p.grassroots_a, source="union_fee", payer_reference="", amount=1_000_000,
                          paid_on=D(2025, 6, 2), external_id="bank:1:1")
    rows = {r["account"]: r for r in api(p.accountant_a, "get", f"/units/{p.grassroots_a.pk}/balances?on=2025-06-30").json()}
    assert rows["112"]["balance"] == 1_000_000 and rows["5111"]["balance"] == 750_000 and rows["336"]["balance"] == 250_000


def test_outside_scope_is_404_and_bad_input_422(p, api):
    for url in (f"/owed?unit={p.province_a.pk}&start=2025-01-01&end=2025-02-01", f"/arrears?unit={p.province_a.pk}",
                f"/employers/{p.grassroots_a.pk}/months", f"/employers/{p.grassroots_a.pk}/notice?month=2025-05-01",
                f"/units/{p.grassroots_a.pk}/balances"):
        response = api(p.province_b_chair, "get", url)
        assert response.status_code == 404 and response.json()["code"] == "not_found", url
    response = api(p.province_b_chair, "post", "/declarations", {"unit_id": p.grassroots_a.pk, "month": "2025-05-01", "si_salary_fund": 1})
    assert response.status_code == 404
    response = api(p.accountant_a, "post", "/declarations", {"unit_id": p.grassroots_a.pk, "month": "2025-05-01", "si_salary_fund": 0})
    assert response.status_code == 422 and response.json()["code"] == "fund_not_positive"
    response = api(p.accountant_a, "post", "/declarations", {"unit_id": p.grassroots_a.pk, "month": "05/2025", "si_salary_fund": 10})
    assert response.status_code == 422 and response.json()["field"] == "month"
    assert not SalaryFundDeclaration.objects.exists()


def test_a_receipt_of_a_summary_is_reversed_through_the_api(p, api):
    from congdoan.finance.bulk import ReceiptIn, receipts_post_bulk
    from congdoan.finance.models import Receipt

    receipts_post_bulk(actor=None, receipts=[ReceiptIn(key=i, unit_id=p.grassroots_a.pk, source="union_fee", amount=1_000_000 + i,
                                                       paid_on=D(2025, 6, 2), external_id=f"bank:{i}:1") for i in (1, 2)])
    first = Receipt.objects.get(external_id="bank:1:1")
    url = f"/receipts/{first.pk}/reverse"
    assert api(p.province_b_chair, "post", url, {}).status_code == 404
    assert api(p.accountant_a, "post", "/receipts/987654/reverse", {}).status_code == 404
    response = api(p.accountant_a, "post", url, {"date": "2025-06-05", "memo": "Nhầm"})
    assert response.status_code == 201, response.content
    assert response.json()["receipt_id"] == first.pk and response.json()["amount"] == 1_000_001
    assert Receipt.objects.get(reversal_of=first).amount == -1_000_001
    again = api(p.accountant_a, "post", url, {})
    assert again.status_code == 422 and again.json()["code"] == "already_reversed"
    bad = api(p.accountant_a, "post", f"/receipts/{Receipt.objects.get(external_id='bank:2:1').pk}/reverse", {"date": "2025-06-01"})
    assert bad.status_code == 422 and bad.json()["code"] == "date_before_original"
