"""Browser tests: the real pages in Debian's Chromium through Playwright, on the live server.

They follow what officials and members do: log in, read the dashboard and follow a figure, search
members as they type, admit a member, transfer one to another province, import a file, show a
member card and verify it, switch the language; and they check that the pages fit a 360 px phone
without scrolling sideways. Skipped when /usr/bin/chromium is missing (``apt-get install chromium``).

Data: the personas (``congdoan/core/testing.py``), committed (``transactional_db``) so the live
server's thread sees them on SQLite and PostgreSQL. Tasks run inline (HUEY_IMMEDIATE=1), in the
server's thread.
"""

import datetime
import io
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import xlsxwriter
from django.test import Client
from django.utils import translation

from congdoan.core import demo_data
from congdoan.core.testing import PASSWORD
from congdoan.imports.columns import COLUMNS
from congdoan.members.choices import TransferStatus
from congdoan.members.models import Member, TransferRequest

CHROMIUM = "/usr/bin/chromium"
PHONE, DESKTOP = 360, 1280

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing: apt-get install chromium"),
]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
expect = sync_api.expect


@pytest.fixture(scope="module")
def _allow_orm_beside_playwright():
    """Playwright's sync API keeps an event loop running in this thread; without this Django refuses
    ORM calls from it (SynchronousOnlyOperation), including the database setup of each test."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def browser(_allow_orm_beside_playwright):
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def world(transactional_db, personas, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # uploaded import files
    return personas


@pytest.fixture
def open_page(browser, live_server):
    """``open_page(user=None, width=1280)``: a fresh browser (own cookies) on the live server, in
    Vietnamese, logged in as ``user`` when given (a session made by Django, not the login form)."""
    contexts = []

    def _open(user=None, width=DESKTOP):
        context = browser.new_context(viewport={"width": width, "height": 900}, locale="vi-VN", base_url=live_server.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
            context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
        return context.new_page()

    yield _open
    for context in contexts:
        context.close()


def vi(message: str, **params) -> str:
    """A message as the Vietnamese page shows it."""
    with translation.override("vi"):
        text = translation.gettext(message)
    return text % params if params else text


def first_number(text: str) -> int:
    match = re.search(r"\d[\d.,]*", text)
    assert match, f"no number in {text!r}"
    return int(re.sub(r"[.,]", "", match.group()))


def login_with_form(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")


def xlsx(rows: list[dict]) -> bytes:
    """A member file as officials fill in the template: Vietnamese headers, dates as dd/mm/yyyy text."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"strings_to_numbers": False})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, [c.header for c in COLUMNS])
    for r, row in enumerate(rows, start=1):
        for c, column in enumerate(COLUMNS):
            if row.get(column.key):
                sheet.write_string(r, c, row[column.key])
    workbook.close()
    return buffer.getvalue()


def member_row(name: str, serial: int, **extra) -> dict:
    dob = datetime.date(1991, 3, 12)
    row = {"full_name": name, "date_of_birth": dob.strftime("%d/%m/%Y"), "gender": "Nữ",
           "citizen_id": demo_data.citizen_id(None, "female", dob, serial, "025"), "joined_on": "01/06/2015",
           "unit_code": "PA-G1"}
    row.update(extra)
    return row


# -- flows: one function each, grouped into tests below -----------------------------------------------
def login_page_is_vietnamese_and_logs_in(world, open_page):
    page = open_page()
    page.goto("/")
    assert "/accounts/login/" in page.url  # the dashboard asks for a login
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.locator("main h1")).to_have_text(vi("Log in"))
    login_with_form(page, "grassroots_a_chair")
    page.wait_for_url(lambda url: urlsplit(url).path == "/")
    expect(page.locator("main h1")).to_contain_text(vi("Overview"))
    expect(page.locator(".menu")).to_contain_text(vi("Log out"))

def dashboard_figures_lead_to_lists_with_the_same_count(world, page):
    page.goto("/")
    stats = page.locator(".grid a.stat")
    figures = [(stats.nth(i).locator("b").inner_text(), stats.nth(i).get_attribute("href")) for i in range(stats.count())]
    assert len(figures) == 5
    assert first_number(figures[0][0]) == 2  # active members of province A: member_a, member_a2
    for value, href in figures:
        page.goto(href)
        expect(page.locator("#rows > p.muted").first).to_be_visible()
        assert first_number(page.locator("#rows > p.muted").first.inner_text()) == first_number(value), href
    # and the first figure followed by a click, as a person does
    page.goto("/")
    page.locator(".grid a.stat").first.click()
    page.wait_for_url(re.compile(r"/members/\?"))
    expect(page.locator("#rows tbody tr")).to_have_count(2)

def member_search_ignores_accents_and_updates_rows_in_place(world, page):
    page.goto("/members/")
    expect(page.locator("#rows tbody tr")).to_have_count(2)
    page.evaluate("window.__samePage = true")  # gone if the browser loaded a new page
    page.locator("input[name=q]").press_sequentially("nguyen van an")
    expect(page.locator("#rows tbody tr")).to_have_count(1)
    expect(page.locator("#rows tbody tr")).to_contain_text("Nguyễn Văn An")
    assert page.evaluate("window.__samePage") is True
    expect(page).to_have_url(re.compile(r"q=nguyen(\+|%20)van(\+|%20)an"))  # hx-push-url: the search can be bookmarked

def unit_tree_from_the_top_of_the_scope_down(world, page):
    page.goto("/units/")
    expect(page.locator("#rows tbody tr")).to_have_count(1)
    page.click(f"#rows a:text-is('{world.province_a.name}')")
    expect(page.locator("main h1")).to_contain_text(world.province_a.name)
    page.click(f"main table a:text-is('{world.upper_a.name}')")
    expect(page.locator("main h1")).to_contain_text(world.upper_a.name)
    children = page.locator("main table tbody tr")
    expect(children).to_have_count(2)
    expect(children.first).to_contain_text(world.grassroots_a.name)
    expect(children.nth(1)).to_contain_text(world.grassroots_a2.name)
    expect(page.locator(".crumbs")).to_contain_text(world.province_a.name)
    assert world.province_b.name not in page.content()

def switching_language_to_english(world, page):
    page.goto("/units/")
    expect(page.locator("main h1")).to_have_text(vi("Units"))
    page.select_option(".lang select", "en")  # submits on change
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.url.endswith("/units/")
    expect(page.locator("main h1")).to_have_text("Units")
    expect(page.locator(".menu")).to_contain_text("Members")
    page.goto("/")
    expect(page.locator("main h1")).to_contain_text("Overview")  # the choice sticks

def admit_shows_the_citizen_id_error_beside_the_field_then_admits(world, open_page):
    page = open_page(world.grassroots_a_chair)
    page.goto("/members/new/")
    page.select_option("#id_unit", str(world.grassroots_a.pk))
    page.fill("#id_full_name", "Đỗ Thị Thu Hà")
    page.fill("#id_date_of_birth", "1992-04-21")
    page.select_option("#id_gender", "female")
    page.fill("#id_citizen_id", "02519200001")  # 11 digits
    page.fill("#id_joined_on", "2016-09-01")
    page.click("main form button")
    error = page.locator(".field:has(#id_citizen_id) > .errorlist")
    expect(error).to_have_text(vi("A citizen ID has exactly 12 digits (got “%(value)s”).", value="02519200001"))
    expect(page.locator("#id_citizen_id")).to_have_attribute("aria-describedby", re.compile("id_citizen_id_error"))
    field_box, error_box = page.locator("#id_citizen_id").bounding_box(), error.bounding_box()
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 40  # right under the field
    assert page.locator(".errorlist").count() == 1  # only that field is wrong
    assert not Member.objects.filter(full_name="Đỗ Thị Thu Hà").exists()

    page.fill("#id_citizen_id", demo_data.citizen_id(None, "female", datetime.date(1992, 4, 21), 424242, "025"))
    page.click("main form button")
    page.wait_for_url(re.compile(r"/members/\d+/$"))
    expect(page.locator("main h1")).to_contain_text("Đỗ Thị Thu Hà")
    expect(page.locator(".messages")).to_contain_text(vi("Member admitted."))
    member = Member.objects.get(full_name="Đỗ Thị Thu Hà")
    assert page.url.endswith(f"/members/{member.pk}/") and member.unit_id == world.grassroots_a.pk

def transfer_requested_by_sender_accepted_by_receiving_official(world, open_page):
    member = world.member_a
    sender = open_page(world.grassroots_a_chair)
    sender.goto(f"/members/{member.pk}/")
    transfer_form = sender.locator("form[action$='/transfer/']")
    sender.locator("details", has=transfer_form).locator("summary").click()
    transfer_form.locator("[name=to_unit]").fill("pb-g1")
    transfer_form.locator("[name=reason]").fill("Chuyển công tác")
    transfer_form.locator("button").click()
    expect(sender.locator(".messages")).to_contain_text(vi("Transfer requested; it waits for the receiving unit."))
    transfer = TransferRequest.objects.get(member=member)
    assert transfer.status == TransferStatus.PENDING

    receiver = open_page(world.province_b_chair)
    receiver.goto("/members/transfers/")
    row = receiver.locator("tr", has_text=member.full_name)
    expect(row).to_contain_text(world.grassroots_b.name)
    row.locator("form[action$='/accept/'] button").click()
    expect(receiver.locator(".messages")).to_contain_text(vi("Transfer updated."))
    member.refresh_from_db()
    assert member.unit_id == world.grassroots_b.pk
    receiver.goto(f"/members/{member.pk}/")  # now in province B's scope
    expect(receiver.locator("main h1")).to_contain_text(member.full_name)


# -- flows grouped into tests: each test pays for one database flush (TRUNCATE), slow on PostgreSQL ---
def test_official_logs_in_and_reads_dashboard_members_units_in_two_languages(world, open_page):
    login_page_is_vietnamese_and_logs_in(world, open_page)
    page = open_page(world.province_a_chair)
    dashboard_figures_lead_to_lists_with_the_same_count(world, page)
    member_search_ignores_accents_and_updates_rows_in_place(world, page)
    unit_tree_from_the_top_of_the_scope_down(world, page)
    switching_language_to_english(world, page)


def test_official_admits_a_member_and_transfers_another(world, open_page):
    admit_shows_the_citizen_id_error_beside_the_field_then_admits(world, open_page)
    transfer_requested_by_sender_accepted_by_receiving_official(world, open_page)


def test_member_sees_his_card_with_a_qr_and_the_verify_link_works(world, open_page):
    page = open_page()
    login_with_form(page, "member_user")
    page.wait_for_url(re.compile(r"/members/me/$"))
    expect(page.locator("main h1")).to_have_text("Nguyễn Văn An")
    page.click("main a[href='/members/me/card/']")
    page.wait_for_url(re.compile(r"/members/me/card/$"))
    expect(page.locator(".member-card .qr svg")).to_have_count(1)
    expect(page.locator(".member-card")).to_contain_text(world.member_a.code)
    page.click("a.verify-link")
    page.wait_for_url(re.compile(r"/members/card/[^/]+/$"))
    expect(page.locator("main h1")).to_contain_text(vi("Valid member card"))
    expect(page.locator("dl.record")).to_contain_text(world.member_a.code)
    # the page behind the QR is public: a phone that scans it is not logged in
    stranger = open_page(width=PHONE)
    response = stranger.goto(page.url)
    assert response.status == 200
    expect(stranger.locator("dl.record")).to_contain_text("Nguyễn Văn An")
    assert world.member_a.citizen_id not in stranger.content()


def test_import_preview_shows_errors_then_a_correct_file_imports(world, open_page):
    page = open_page(world.grassroots_a_chair)
    before = Member.objects.count()
    page.goto("/imports/")
    bad = [member_row("Phạm Thị Hoa", 555001), member_row("Vũ Thị Lan", 555002, citizen_id="12345")]
    page.set_input_files("input[type=file]", files=[{"name": "loi.xlsx", "mimeType": "application/octet-stream", "buffer": xlsx(bad)}])
    page.click("main form.form button")
    page.wait_for_url(re.compile(r"/imports/\d+/$"))
    errors = page.locator("#job-status table tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.first).to_contain_text("12345")
    expect(errors.first.locator("td").first).to_have_text("3")  # the header is row 1
    assert Member.objects.count() == before

    page.locator("main a[href='/imports/']").first.click()
    good = [member_row("Phạm Thị Hoa", 555001), member_row("Vũ Thị Lan", 555002)]
    page.set_input_files("input[type=file]", files=[{"name": "dung.xlsx", "mimeType": "application/octet-stream", "buffer": xlsx(good)}])
    page.click("main form.form button")
    page.wait_for_url(re.compile(r"/imports/\d+/$"))
    page.click("form[action$='/confirm/'] button")
    expect(page.locator("#job-status")).to_contain_text(vi("The members were imported."))
    assert Member.objects.count() == before + 2
    assert set(Member.objects.filter(unit=world.grassroots_a).values_list("full_name", flat=True)) >= {"Phạm Thị Hoa", "Vũ Thị Lan"}


# -- phones ---------------------------------------------------------------------------------------------
WIDER_THAN_WINDOW = """() => ({
  page: document.documentElement.scrollWidth,
  tables: [...document.querySelectorAll('.table-wrap')]
    .filter(w => w.querySelector('table.stack') && w.scrollWidth > w.clientWidth + 1).length,
})"""


#: visible buttons, button-like links and fields of the page lower than 44 px (a finger's size)
SMALL_TARGETS = """() => [...document.querySelectorAll(
    'main button, main .button, main select, main input:not([type=hidden]):not([type=checkbox]):not([type=radio])')]
  .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44)
  .map(e => e.outerHTML.slice(0, 80))"""


def test_pages_fit_a_360px_phone(world, open_page):
    """No sideways scrolling at 360 px: neither the page nor a table that should stack."""
    checked = []

    def check(page, path):
        response = page.goto(path)
        assert response.status == 200, path
        widths = page.evaluate(WIDER_THAN_WINDOW)
        checked.append(path)
        assert widths["page"] <= PHONE and widths["tables"] == 0, (path, widths)

    check(open_page(width=PHONE), "/accounts/login/")
    official = open_page(world.grassroots_a_chair, width=PHONE)
    for path in ["/", "/members/", f"/members/{world.member_a.pk}/", "/units/", f"/units/{world.grassroots_a.pk}/",
                 "/imports/", "/payments/"]:
        check(official, path)
    # buttons and fields are big enough for a finger
    official.goto("/members/")
    small = official.evaluate(SMALL_TARGETS)
    assert small == [], small
    # the menu opens on a phone and fits too
    official.goto("/")
    expect(official.locator(".menu")).to_be_hidden()
    official.click("label.menu-button")
    expect(official.locator(".menu a[href='/members/']")).to_be_visible()
    assert official.evaluate("document.documentElement.scrollWidth") <= PHONE
    member = open_page(world.member_user, width=PHONE)
    check(member, "/members/me/card/")
    assert len(checked) == 9


def test_a_statements_receipts_on_a_phone(world, open_page):
    """The journal links a statement's summary transaction to its receipts; the page fits 360 px and reverses one."""
    import importlib

    from django.apps import apps

    from congdoan.finance.bulk import ReceiptIn, receipts_post_bulk
    from congdoan.finance.models import Receipt, Rule, Transaction

    if not Rule.objects.exists():  # an earlier live-server test flushed the tables: the rules the migration seeds come back
        importlib.import_module("congdoan.finance.migrations.0002_seed_rules").seed(apps, None)
    receipts_post_bulk(actor=None, receipts=[
        ReceiptIn(key=i, unit_id=world.grassroots_a.pk, source="union_fee", amount=1_500_000 + i * 10_000,
                  paid_on=datetime.date(2025, 6, 2), external_id=f"bank:{9000 + i}:1") for i in range(3)])
    summary = Transaction.objects.get(kind="receipts")
    page = open_page(world.accountant_a, width=PHONE)
    page.goto(f"/finance/units/{world.grassroots_a.pk}/journal/")
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "journal-360.png"), full_page=True)
    page.click(f"a[href$='/journal/{summary.pk}/receipts/']")
    expect(page.locator("h1")).to_contain_text(f"#{summary.pk}")
    widths = page.evaluate(WIDER_THAN_WINDOW)
    assert widths["page"] <= PHONE and widths["tables"] == 0, widths
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "statement-receipts-360.png"), full_page=True)
    page.on("dialog", lambda dialog: dialog.accept())
    page.locator("button", has_text=vi("Reverse")).first.click()
    expect(page.locator("main")).to_contain_text(vi("reversed"))
    assert Receipt.objects.filter(amount__lt=0).count() == 1


def test_a_union_sees_the_provinces_reversal_of_a_summary_on_a_phone(world, open_page):
    """A statement's summary reversed as a whole by the province: the union's journal, at 360 px, marks it reversed."""
    import importlib

    from django.apps import apps

    from congdoan.finance.bulk import ReceiptIn, receipts_post_bulk
    from congdoan.finance.models import Receipt, Rule
    from congdoan.finance.services import transaction_reverse

    if not Rule.objects.exists():  # an earlier live-server test flushed the tables: the rules the migration seeds come back
        importlib.import_module("congdoan.finance.migrations.0002_seed_rules").seed(apps, None)
    receipts_post_bulk(actor=None, receipts=[ReceiptIn(key=1, unit_id=world.grassroots_a.pk, source="union_fee", amount=2_000_000,
                                                       paid_on=datetime.date(2025, 6, 3), external_id="bank:9100:1")])
    summary = Receipt.objects.get(external_id="bank:9100:1").transaction
    transaction_reverse(actor=world.province_a_chair, transaction=summary, date=datetime.date(2025, 6, 6), memo="Sao kê nhầm")
    page = open_page(world.accountant_a, width=PHONE)
    page.goto(f"/finance/units/{world.grassroots_a.pk}/journal/")
    expect(page.locator("main")).to_contain_text(vi("reversed"))
    widths = page.evaluate(WIDER_THAN_WINDOW)
    assert widths["page"] <= PHONE and widths["tables"] == 0, widths
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.path.join(os.environ["SCREENSHOT_DIR"], "journal-reversed-summary-360.png"), full_page=True)
