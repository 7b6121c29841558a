"""Reports: revenue by month, level and source; arrears by employer; remittances to upper levels.
The pages, their .xlsx exports (read back with python-calamine: the sums equal the page) and PDF
exports, who may read and export what, and scope."""

import io

import pytest
from python_calamine import CalamineWorkbook

from congdoan.audit.models import AuditEntry
from congdoan.core.testing import make_user, use_english
from congdoan.finance.services import Line, ledger_post
from congdoan.finance_reports.tests.conftest import FEE, D, pdf_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(world):
    """World plus other revenue at the province and a remittance of PA-G1's shares to the upper level."""
    p = world
    ledger_post(actor=p.province_a_chair, unit=p.province_a, date=D(2025, 5, 20), kind="manual", memo="Tài trợ",
                lines=[Line("112", debit=500_000), Line("518", credit=500_000)])
    ledger_post(actor=p.province_a_chair, unit=p.grassroots_a, date=D(2025, 3, 15), kind="remittance", memo="Nộp cấp trên",
                lines=[Line("336", debit=600_000), Line("112", credit=600_000),
                       Line("112", debit=600_000, unit=p.upper_a), Line("136", credit=600_000, unit=p.upper_a)])
    return p


def sheet_rows(content: bytes, name: str) -> list[list]:
    """The rows of a sheet of an .xlsx (pages are read in English here: the sheet names are the source strings)."""
    return CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_name(name).to_python()


def download(client, url) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, url
    assert response["Content-Disposition"].startswith("attachment")
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- revenue --------------------------------------------------------------------------------------------------

def test_revenue_by_month_level_and_source(books, client):
    client.force_login(books.province_a_chair)
    report = client.get(f"/finance-reports/revenue/?unit={books.province_a.pk}&period=2025").context["report"]
    # 2,500,000 union fee paid 10/02: PA-G1 75 %, PA-U 10 %, PA 10 % (TLĐ's 5 % is outside A); 30,000 dues paid 10/04:
    # PA-G1 70 %, PA-U 15 %, PA 10 %; 500,000 other revenue at PA in 05/2025
    assert report["totals"] == {"union_fee": 2_375_000, "dues": 28_500, "other": 500_000, "total": 2_903_500}
    by_level = {r["level"]: (r["union_fee"], r["dues"], r["other"]) for r in report["by_level"]}
    assert by_level == {"province": (250_000, 3_000, 500_000), "upper_grassroots": (250_000, 4_500, 0),
                        "grassroots": (1_875_000, 21_000, 0)}
    by_month = {r["month"].month: r["total"] for r in report["by_month"] if r["total"]}
    assert by_month == {2: 2_375_000, 4: 28_500, 5: 500_000} and len(report["by_month"]) == 12
    assert sum(d["amount"] for d in report["detail"]) == report["totals"]["total"]
    # a quarter, and the national view includes the national share
    q2 = client.get(f"/finance-reports/revenue/?unit={books.province_a.pk}&period=2025-Q2").context["report"]
    assert q2["totals"]["total"] == 528_500 and len(q2["by_month"]) == 3
    client.force_login(books.national_chair)
    national = client.get("/finance-reports/revenue/?period=2025").context["report"]
    assert national["totals"]["union_fee"] == 2_500_000 + 1_000_000  # PB's receipt too, every share


def test_revenue_xlsx_sums_equal_the_page(books, client):
    use_english(client)
    client.force_login(books.province_a_chair)
    url = f"/finance-reports/revenue/?unit={books.province_a.pk}&period=2025"
    report = client.get(url).context["report"]
    content = download(client, url + "&export=xlsx")
    rows = sheet_rows(content, "By month")
    header = rows.index(next(r for r in rows if r and r[0] == "Month"))
    data, total = rows[header + 1:header + 13], rows[header + 13]
    assert [int(r[4]) for r in data] == [r["total"] for r in report["by_month"]]
    assert [int(v) for v in total[1:5]] == [report["totals"][k] for k in ("union_fee", "dues", "other", "total")]
    assert sum(int(r[4]) for r in data) == report["totals"]["total"]
    levels = sheet_rows(content, "By level")
    assert sum(int(r[4]) for r in levels[4:-1]) == int(levels[-1][4]) == report["totals"]["total"]
    detail = sheet_rows(content, "Detail")
    assert sum(int(r[3]) for r in detail[4:-1]) == report["totals"]["total"]
    entry = AuditEntry.objects.get(action="finance_reports.exported")
    assert entry.changes == {"report": "revenue", "period": "2025", "format": "xlsx", "rows": len(report["detail"])}
    pdf = download(client, url + "&export=pdf")
    assert pdf.startswith(b"%PDF") and "2.903.500" in pdf_text(pdf)


# --- arrears by employer ----------------------------------------------------------------------------------------

def test_the_employer_list_and_its_exports(world, client):
    use_english(client)
    client.force_login(world.province_a_chair)
    url = f"/finance-reports/employers/?unit={world.province_a.pk}&period=2025"
    response = client.get(url)
    totals, rows = response.context["totals"], list(response.context["page"])
    assert [r.code for r in rows] == ["PA-G1", "PA-G2"]  # most in arrears first
    assert (rows[0].fee_owed, rows[0].fee_paid, rows[0].dues_paid, rows[0].arrears.arrears, rows[0].email) == (
        6 * FEE, 2_500_000, 30_000, 6 * FEE - 2_500_000, "ketoan@maysonghong.vn")
    assert totals["fee_owed"] == 6 * FEE + 200_000 and totals["arrears"] == 6 * FEE + 200_000 - 2_500_000
    html = response.content.decode()
    assert "Công ty May Sông Hồng" in html and "ketoan@maysonghong.vn" in html

    content = download(client, url + "&export=xlsx")
    sheet = sheet_rows(content, "Arrears by employer")
    header = next(i for i, r in enumerate(sheet) if r and r[1] == "Code")
    data, total = sheet[header + 1:-1], sheet[-1]
    assert [r[0] for r in data] == ["Công ty May Sông Hồng", "Công đoàn cơ sở Trường THCS Gia Cẩm"]
    for column, key in ((3, "fee_owed"), (4, "fee_paid"), (5, "dues_owed"), (6, "dues_paid"), (7, "arrears")):
        assert sum(int(r[column]) for r in data) == int(total[column]) == totals[key], key
    assert [int(v) for v in total[8:12]] == [totals[k] for k in ("upto3", "m3to6", "m6to12", "over12")]
    pdf = download(client, url + "&export=pdf&bucket=m3to6")
    text = pdf_text(pdf)
    assert "Công ty May Sông Hồng" in text and "Trường THCS Gia Cẩm" not in text  # the filter applies to the export

    # a bucket filter and a search narrow the list and its totals
    filtered = client.get(url + "&bucket=m6to12&q=gia cam").context
    assert [r.code for r in filtered["page"]] == ["PA-G2"] and filtered["totals"]["m6to12"] == 200_000


# --- remittances ---------------------------------------------------------------------------------------------------

def test_remittances_to_upper_levels(books, client):
    use_english(client)
    client.force_login(books.province_a_chair)
    url = f"/finance-reports/remittances/?unit={books.province_a.pk}&period=2025"
    report = client.get(url).context["report"]
    # PA-G1 keeps 75 % of 2,500,000 and 70 % of 30,000: the rest (625,000 + 9,000) is owed upward; it remitted 600,000
    assert [(r["code"], r["opening"], r["due"], r["remitted"], r["closing"]) for r in report["rows"]] == [
        ("PA-G1", 0, 634_000, 600_000, 34_000)]
    q2 = client.get(f"/finance-reports/remittances/?unit={books.province_a.pk}&period=2025-Q2").context["report"]
    assert [(r["opening"], r["due"], r["remitted"], r["closing"]) for r in q2["rows"]] == [(25_000, 9_000, 0, 34_000)]
    content = download(client, url + "&export=xlsx")
    sheet = sheet_rows(content, "Remittances")
    assert [int(v) for v in sheet[-1][3:7]] == [0, 634_000, 600_000, 34_000]
    assert download(client, url + "&export=pdf").startswith(b"%PDF")


# --- who may read and export what ----------------------------------------------------------------------------------

def test_a_viewer_reads_revenue_but_not_employer_detail(books, client):
    viewer = make_user("committee_a", unit=books.province_a, role="committee_member")
    client.force_login(viewer)
    assert client.get("/finance-reports/revenue/?period=2025").context["report"]["totals"]["total"] == 2_903_500
    assert client.get("/finance-reports/revenue/?period=2025&export=xlsx").status_code == 200
    for url in ("/finance-reports/employers/?period=2025&export=xlsx", "/finance-reports/employers/?period=2025&export=pdf",
                "/finance-reports/remittances/?period=2025&export=xlsx", "/finance-reports/receipts/?period=2025"):
        assert client.get(url).status_code == 404, url


@pytest.mark.parametrize("path", ["", "employers/", "receipts/", "revenue/", "remittances/"])
@pytest.mark.parametrize("export", ["", "&export=xlsx", "&export=pdf"])
def test_province_b_gets_404_for_anything_of_a(books, client, path, export):
    client.force_login(books.province_b_chair)
    for unit in (books.province_a, books.upper_a, books.grassroots_a):
        response = client.get(f"/finance-reports/{path}?unit={unit.pk}&period=2025{export}")
        assert response.status_code == 404
    response = client.get(f"/finance-reports/{path}?period=2025{export}")
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if content.startswith(b"PK"):
        import zipfile

        with zipfile.ZipFile(io.BytesIO(content)) as z:
            content = b"".join(z.read(n) for n in z.namelist())
    text = pdf_text(content) if content.startswith(b"%PDF") else content.decode("utf-8", "replace")
    for marker in ("Công ty May Sông Hồng", "PA-G1", books.province_a.name, "2600123456"):
        assert marker not in text


def test_a_bad_period_exports_nothing(world, client):
    client.force_login(world.province_a_chair)
    for path in ("employers/", "revenue/", "remittances/"):
        response = client.get(f"/finance-reports/{path}?period=2099&export=xlsx")
        assert response.status_code == 422 and response["Content-Type"].startswith("text/html")
    assert not AuditEntry.objects.filter(action="finance_reports.exported").exists()
