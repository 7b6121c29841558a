"""Ending a member's dues exemption earlier (``services.dues_exemption_end`` and its form on the member's
dues page): an exemption "until further notice" stops when the member is back at work, and a new one
may then start after it. It only shortens, never before its first month, never into a closed month of
the union's books; scoped and audited like ``dues_exemption_create``."""

import datetime
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from congdoan.audit.models import AuditEntry
from congdoan.core.errors import NotFoundInScope
from congdoan.core.testing import make_member
from congdoan.finance import selectors, services
from congdoan.finance.errors import FinanceError
from congdoan.finance.models import DuesExemption
from congdoan.finance.money import add_months, month_start

D = datetime.date
THIS_MONTH = month_start(timezone.localdate())


def exempt(p, first, last=None, member=None, actor=None):
    return services.dues_exemption_create(actor=actor or p.accountant_a, member=member or p.member_a, first_month=first,
                                          last_month=last, reason="Nghỉ không lương")


def end(p, exemption, last, actor=None, reason="Đã đi làm lại"):
    return services.dues_exemption_end(actor=actor or p.accountant_a, exemption=exemption, last_month=last, reason=reason)


def end_url(exemption) -> str:
    return reverse("finance:dues_exemption_end", kwargs={"exemption": exemption.pk})


def dues_url(p) -> str:
    return reverse("finance:member_dues", kwargs={"member": p.member_a.pk})


def post_end(client, exemption, month, reason="Đã đi làm lại"):
    return client.post(end_url(exemption), {f"end-{exemption.pk}-last_month": month, f"end-{exemption.pk}-reason": reason})


def owed_note(member, month) -> str:
    (row,) = selectors.member_dues_owed(member_ids=[member.pk], start=month, end=month)
    return row["note"]


def ended_entries():
    return AuditEntry.objects.filter(action="finance.dues_exemption_ended")


# -- the service ---------------------------------------------------------------------------------------------------
def test_ending_an_open_exemption_lets_a_new_one_start_after_it(p):
    open_ended = exempt(p, D(2024, 1, 1))
    with pytest.raises(FinanceError) as exc:
        exempt(p, D(2025, 6, 1), None)
    assert exc.value.code == "exemption_overlap"

    ended = end(p, open_ended, D(2025, 3, 17))  # any day stands for its month
    assert ended.pk == open_ended.pk
    open_ended.refresh_from_db()
    assert (open_ended.first_month, open_ended.last_month, open_ended.reason) == (D(2024, 1, 1), D(2025, 3, 1), "Nghỉ không lương")
    assert owed_note(p.member_a, D(2025, 3, 1)) == "exempt_member"
    assert owed_note(p.member_a, D(2025, 4, 1)) != "exempt_member"  # he owes again from the month after

    again = exempt(p, D(2025, 6, 1), None)  # the new one after it is accepted
    assert DuesExemption.objects.filter(member=p.member_a).count() == 2
    assert owed_note(p.member_a, D(2026, 1, 1)) == "exempt_member" and again.last_month is None
    with pytest.raises(FinanceError) as exc:  # the ended one still covers its own months
        exempt(p, D(2025, 3, 1), D(2025, 4, 1))
    assert exc.value.code == "exemption_overlap"


def test_a_longer_exemption_is_shortened_and_a_future_end_is_allowed(p):
    long_one = exempt(p, D(2025, 1, 1), add_months(THIS_MONTH, 12))
    end(p, long_one, add_months(THIS_MONTH, 2))
    long_one.refresh_from_db()
    assert long_one.last_month == add_months(THIS_MONTH, 2)
    end(p, long_one, D(2025, 1, 1))  # down to its first month: one month left
    long_one.refresh_from_db()
    assert long_one.last_month == D(2025, 1, 1)


@pytest.mark.parametrize("last", [D(2024, 12, 1), D(2020, 1, 1)])
def test_ending_before_its_first_month_is_refused(p, last):
    exemption = exempt(p, D(2025, 1, 1))
    with pytest.raises(FinanceError) as exc:
        end(p, exemption, last)
    assert (exc.value.code, exc.value.field) == ("months_reversed", "last_month")
    assert "01/2025" in str(exc.value)
    exemption.refresh_from_db()
    assert exemption.last_month is None and not ended_entries().exists()


@pytest.mark.parametrize("last", [D(2025, 6, 1), D(2025, 9, 1)])
def test_it_only_shortens(p, last):
    exemption = exempt(p, D(2025, 1, 1), D(2025, 6, 1))
    with pytest.raises(FinanceError) as exc:
        end(p, exemption, last)
    assert (exc.value.code, exc.value.field) == ("exemption_not_shortened", "last_month")
    assert "06/2025" in str(exc.value)
    exemption.refresh_from_db()
    assert exemption.last_month == D(2025, 6, 1) and not ended_entries().exists()


def test_a_month_closed_in_the_unions_books_keeps_its_exemption(p):
    exemption = exempt(p, D(2025, 1, 1))
    old = exempt(p, D(2020, 1, 1), D(2020, 12, 1))
    services.period_close(actor=p.accountant_a, unit=p.grassroots_a, month=D(2025, 3, 1))  # closes 03/2025 (no earlier entries)
    for last in (D(2025, 1, 1), D(2025, 2, 1)):  # would make 03/2025 owe dues
        with pytest.raises(FinanceError) as exc:
            end(p, exemption, last)
        assert (exc.value.code, exc.value.field) == ("period_closed", "last_month")
        assert "03/2025" in str(exc.value) and exc.value.params["month"] == "2025-03-01"
    exemption.refresh_from_db()
    assert exemption.last_month is None and not ended_entries().exists()
    end(p, exemption, D(2025, 3, 1))  # the months given back start after the closed one
    end(p, old, D(2020, 6, 1))  # months long before the closed one: nothing closed changes
    assert ended_entries().count() == 2


def test_a_sub_unions_member_is_checked_against_his_grassroots_books(p):
    member = make_member(p.sub_union_a, full_name="Đỗ Văn Cường")
    exemption = exempt(p, D(2025, 1, 1), member=member)
    services.period_close(actor=p.accountant_a, unit=p.grassroots_a, month=D(2025, 3, 1))
    with pytest.raises(FinanceError) as exc:
        end(p, exemption, D(2025, 2, 1))
    assert exc.value.code == "period_closed" and p.grassroots_a.name in str(exc.value)


def test_the_month_is_required(p):
    exemption = exempt(p, D(2025, 1, 1))
    with pytest.raises(FinanceError) as exc:
        end(p, exemption, None)
    assert (exc.value.code, exc.value.field) == ("month_required", "last_month")


def test_it_is_audited_with_the_last_month_before_and_after(p):
    exemption = exempt(p, D(2025, 1, 1))
    end(p, exemption, D(2025, 4, 1), actor=p.grassroots_a_chair, reason="  Đã đi   làm lại ")
    (entry,) = ended_entries()
    assert (entry.actor, entry.object_type, entry.object_id, entry.unit_path) == (
        p.grassroots_a_chair, "members.member", str(p.member_a.pk), p.grassroots_a.path)
    assert entry.changes == {"exemption_id": exemption.pk, "first_month": "2025-01-01", "last_month": [None, "2025-04-01"],
                             "reason": "Đã đi làm lại"}
    end(p, exemption, D(2025, 2, 1), reason="")
    assert ended_entries().order_by("-pk").first().changes["last_month"] == ["2025-04-01", "2025-02-01"]


@pytest.mark.parametrize("who", ["province_b_chair", "outsider", "member_user"])
def test_outside_scope_the_service_answers_not_found(p, who):
    exemption = exempt(p, D(2025, 1, 1))
    with pytest.raises(NotFoundInScope):
        end(p, exemption, D(2025, 3, 1), actor=p.users[who])
    exemption.refresh_from_db()
    assert exemption.last_month is None and not ended_entries().exists()


def test_a_sibling_unions_accountant_cannot_end_it(p):
    exemption = exempt(p, D(2025, 1, 1), member=p.member_a2, actor=p.province_a_chair)  # PA-G2
    with pytest.raises(NotFoundInScope):
        end(p, exemption, D(2025, 3, 1), actor=p.accountant_a)
    with pytest.raises(NotFoundInScope):
        end(p, DuesExemption(pk=987654), D(2025, 3, 1))


@pytest.mark.skipif(not connection.features.has_select_for_update, reason="SQLite has no row locks")
def test_the_rows_are_locked_until_commit(p):
    exemption = exempt(p, D(2025, 1, 1))
    with CaptureQueriesContext(connection) as ctx:
        end(p, exemption, D(2025, 3, 1))
    locked = [q["sql"] for q in ctx.captured_queries if "FOR UPDATE" in q["sql"]]
    assert any('"members_member"' in sql.split(" FROM ")[1][:40] for sql in locked), locked
    assert any('"finance_duesexemption"' in sql.split(" FROM ")[1][:40] for sql in locked), locked


# -- the page --------------------------------------------------------------------------------------------------------
def test_the_page_ends_an_exemption_and_then_takes_a_new_one(p, client):
    exemption = exempt(p, D(2024, 1, 1))
    client.force_login(p.accountant_a)
    response = client.get(dues_url(p))
    html = response.content.decode()
    assert f'action="{end_url(exemption)}#exemption-{exemption.pk}"' in html
    assert f'name="end-{exemption.pk}-last_month"' in html

    response = post_end(client, exemption, "03/2025")
    assert response.status_code == 302 and response["Location"] == f"{dues_url(p)}#exemption-{exemption.pk}"
    exemption.refresh_from_db()
    assert exemption.last_month == D(2025, 3, 1)
    page = client.get(response["Location"])
    (message,) = [str(m) for m in page.context["messages"]]  # says what happened
    assert "03/2025" in message and "04/2025" in message
    html = page.content.decode()
    assert "03/2025" in html and "04/2025" in html
    assert f'name="end-{exemption.pk}-last_month"' not in html  # it has ended: nothing left to end

    response = client.post(dues_url(p), {"action": "exemption", "exemption-first_month": "06/2025", "exemption-reason": "Ốm dài ngày"})
    assert response.status_code == 302
    assert list(DuesExemption.objects.filter(member=p.member_a).order_by("first_month").values_list("first_month", "last_month")) == [
        (D(2024, 1, 1), D(2025, 3, 1)), (D(2025, 6, 1), None)]


def test_only_exemptions_still_running_after_this_month_have_the_form(p, client):
    past = exempt(p, D(2019, 1, 1), D(2019, 6, 1))
    this_month = exempt(p, D(2020, 1, 1), THIS_MONTH)
    later = exempt(p, add_months(THIS_MONTH, 1), add_months(THIS_MONTH, 3))
    open_ended = exempt(p, add_months(THIS_MONTH, 6))
    client.force_login(p.grassroots_a_chair)
    html = client.get(dues_url(p)).content.decode()
    with_form = {e.pk for e in (past, this_month, later, open_ended) if f'name="end-{e.pk}-last_month"' in html}
    assert with_form == {later.pk, open_ended.pk}


@pytest.mark.parametrize("month,code", [("12/2024", "months_reversed"), ("13/2025", "month_invalid"), ("", "required")])
def test_a_refused_end_comes_back_with_the_error_on_the_field(p, client, month, code):
    exemption = exempt(p, D(2025, 1, 1))
    client.force_login(p.accountant_a)
    response = post_end(client, exemption, month)
    assert response.status_code == 422
    (shown,) = [e for e in response.context["exemptions"] if e.pk == exemption.pk]
    errors = shown.end_form.errors.as_data()
    assert list(errors) == ["last_month"]
    if code != "months_reversed":  # the form's own codes; the service's refusal is its message
        assert errors["last_month"][0].code == code
    html = response.content.decode()
    typed = f' value="{re.escape(month)}"' if month else ""
    assert re.search(rf'<details class="exemption-end" open><summary>[^<]*</summary>\s*<form[^>]*>.*?name="end-{exemption.pk}-last_month"{typed}',
                     html, flags=re.S)
    assert escape(errors["last_month"][0].messages[0]) in html
    # the other forms still post to the member's page, not to the end URL
    assert html.count(f'action="{dues_url(p)}"') == 2
    exemption.refresh_from_db()
    assert exemption.last_month is None and not ended_entries().exists()


def test_the_service_message_is_shown_on_the_field(p, client):
    exemption = exempt(p, D(2025, 1, 1), D(2025, 6, 1))
    client.force_login(p.accountant_a)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = post_end(client, exemption, "08/2025")
    assert response.status_code == 422
    (shown,) = [e for e in response.context["exemptions"] if e.pk == exemption.pk]
    assert shown.end_form.errors["last_month"] == ["This exemption already ends in 06/2025: it can only be ended earlier."]


@pytest.mark.parametrize("who", ["province_b_chair", "outsider", "member_user"])
def test_the_page_is_404_outside_scope_and_for_a_plain_member(p, client, who):
    exemption = exempt(p, D(2025, 1, 1))
    client.force_login(p.users[who])
    response = post_end(client, exemption, "03/2025")
    assert response.status_code == 404
    assert "Nguyễn Văn An" not in response.content.decode()
    assert post_end(client, DuesExemption(pk=987654), "03/2025").status_code == 404  # the same as one that does not exist
    exemption.refresh_from_db()
    assert exemption.last_month is None and not ended_entries().exists()


def test_the_end_url_is_post_only_and_needs_a_login(p, client):
    exemption = exempt(p, D(2025, 1, 1))
    response = post_end(client, exemption, "03/2025")
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    client.force_login(p.accountant_a)
    assert client.get(end_url(exemption)).status_code == 405
    assert client.get(end_url(DuesExemption(pk=987654))).status_code == 405  # says nothing about the id
    exemption.refresh_from_db()
    assert exemption.last_month is None


def test_the_audit_page_names_the_action(p, client):
    end(p, exempt(p, D(2025, 1, 1)), D(2025, 3, 1))
    client.force_login(p.province_a_chair)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(reverse("audit:entry_list") + "?action=finance.dues_exemption_ended").content.decode()
    assert "Member&#x27;s dues exemption ended" in html or "Member's dues exemption ended" in html
    assert "finance.dues_exemption_ended</td>" not in html


# -- at 360 px, in the browser -----------------------------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing")
def test_the_form_works_on_a_360px_phone(transactional_db, personas, live_server, monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop runs in this thread
    from django.test import Client

    p = personas
    exemption = exempt(p, D(2024, 1, 1))
    client = Client()
    client.force_login(p.accountant_a, backend="django.contrib.auth.backends.ModelBackend")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            context = browser.new_context(viewport={"width": 360, "height": 800}, base_url=live_server.url)
            context.set_default_timeout(10_000)
            context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url},
                                 {"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}])
            page = context.new_page()
            page.goto(dues_url(p))
            row = page.locator(f"#exemption-{exemption.pk}")
            row.locator("summary").click()
            field = row.locator(f"input[name='end-{exemption.pk}-last_month']")
            field.fill("12/2023")
            row.locator("button").click()
            sync_api.expect(page.locator(f"#exemption-{exemption.pk} .errorlist")).to_contain_text("01/2024")
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            box = page.locator(f"#exemption-{exemption.pk} input[name='end-{exemption.pk}-last_month']").bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 360 and box["height"] >= 44
            page.locator(f"#exemption-{exemption.pk} input[name='end-{exemption.pk}-last_month']").fill("03/2025")
            page.locator(f"#exemption-{exemption.pk} button").click()
            sync_api.expect(page.locator(".messages")).to_contain_text("03/2025")
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
        finally:
            browser.close()
    exemption.refresh_from_db()
    assert exemption.last_month == D(2025, 3, 1)
