"""Finance reports in the JSON API, called with API keys as a program would: the same figures as the
pages, scoped the same way (404 outside scope, nothing of province A for province B), errors with
codes, every operation declaring 401/404/422 with ErrorOut, and a constant number of queries."""

import json

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from congdoan.accounts.services import api_token_create
from congdoan.core.testing import make_user
from congdoan.finance_reports.models import Reminder, ReminderJob, ReminderSchedule
from congdoan.finance_reports.tests.conftest import FEE

pytestmark = pytest.mark.django_db
BASE = "/api-test/finance-reports"
A_MARKERS = ("Công ty May Sông Hồng", "PA-G1", "2600123456", "Liên đoàn Lao động tỉnh A", "ketoan@maysonghong.vn")


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = "congdoan.finance_reports.tests.api_urls"


@pytest.fixture
def call(world):
    keys = {}
    client = Client(enforce_csrf_checks=True)

    def _call(who, method, url, body=None):
        user = who if not isinstance(who, str) else world.users[who]
        if user.pk not in keys:
            keys[user.pk] = api_token_create(actor=user, name="test")[1]
        kwargs = {"headers": {"Authorization": f"Bearer {keys[user.pk]}"}}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        response = getattr(client, method)(BASE + url, **kwargs)
        response.text = json.dumps(response.json(), ensure_ascii=False)
        return response
    return _call


def test_collection_figures_are_the_pages(world, call):
    response = call("province_a_chair", "get", "/collection?period=2025")
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["unit"]["code"], data["period"]["key"], data["as_of"]) == ("PA", "2025", "2025-12-01")
    assert (data["union_fee_owed"], data["union_fee_paid"], data["dues_paid"], data["arrears"]) == (
        6 * FEE + 200_000, 2_500_000, 30_000, 6 * FEE + 200_000 - 2_500_000)
    assert data["buckets"]["m6to12"] == {"amount": 3 * FEE + 1_700_000, "employers": 2}
    assert [b["unit"]["code"] for b in data["branches"]] == ["PA-U"]
    quarter = call("national_chair", "get", f"/collection?unit={world.upper_a.pk}&period=2025-Q1").json()
    assert quarter["union_fee_owed"] == 3 * FEE + 200_000 and {b["unit"]["code"] for b in quarter["branches"]} == {"PA-G1", "PA-G2"}


def test_reports_employers_revenue_remittances_reminders(world, call):
    employers = call("accountant_a", "get", "/employers?period=2025").json()
    assert employers["unit"]["code"] == "PA-G1" and employers["count"] == 1
    assert employers["items"][0]["arrears"] == 6 * FEE - 2_500_000 and employers["totals"]["fee_owed"] == 6 * FEE
    only = call("province_a_chair", "get", "/employers?period=2025&bucket=m3to6").json()
    assert [e["code"] for e in only["items"]] == ["PA-G1"]
    revenue = call("province_a_chair", "get", "/revenue?period=2025").json()
    assert revenue["totals"]["union_fee"] == 2_375_000 and sum(r["amount"] for r in revenue["rows"]) == revenue["totals"]["total"]
    remittances = call("province_a_chair", "get", "/remittances?period=2025").json()
    assert remittances["rows"][0]["code"] == "PA-G1" and remittances["totals"]["due"] == 634_000
    assert call("province_a_chair", "get", "/reminders").json() == []


def test_sending_reminders_through_the_api(world, call, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = call("province_a_chair", "post", "/reminders/jobs", {"unit": world.province_a.pk, "as_of": "12/2025"})
    assert response.status_code == 201, response.content
    job = call("province_a_chair", "get", f"/reminders/jobs/{response.json()['id']}").json()
    assert (job["status"], job["total"], job["sent"], job["no_email"]) == ("done", 2, 1, 1)
    sent = call("accountant_a", "get", "/reminders").json()
    assert [(r["employer_id"], r["amount"], r["status"]) for r in sent] == [(world.grassroots_a.pk, 6 * FEE - 2_500_000, "sent")]
    assert len(mail.outbox) == 1


def test_province_b_gets_404_or_only_its_own(world, call):
    a = world.province_a.pk
    for url in (f"/collection?unit={a}", f"/employers?unit={a}", f"/revenue?unit={a}", f"/remittances?unit={a}",
                f"/reminders?unit={a}", f"/collection?unit={world.grassroots_a.pk}", "/collection?unit=987654"):
        for who in ("province_b_chair", "outsider", "member_user"):
            response = call(who, "get", url)
            assert response.status_code == 404, (who, url)
            assert response.json() == {"code": "not_found", "field": None, "message": response.json()["message"], "errors": []}
    job = ReminderJob.objects.create(unit=world.province_a, as_of="2025-12-01", requested_by=world.province_a_chair, status="done")
    assert call("province_b_chair", "get", f"/reminders/jobs/{job.pk}").status_code == 404
    response = call("province_b_chair", "post", "/reminders/jobs", {"unit": a, "as_of": "12/2025"})
    assert response.status_code == 404 and ReminderJob.objects.count() == 1
    for url in ("/collection?period=2025", "/employers?period=2025", "/revenue?period=2025", "/remittances?period=2025", "/reminders"):
        response = call("province_b_chair", "get", url)
        assert response.status_code == 200, url
        assert not [m for m in A_MARKERS if m in response.text], url
    assert call("province_b_chair", "get", "/collection?period=2025").json()["union_fee_owed"] == 1_000_000
    for url in ("/collection", "/revenue"):
        assert call("outsider", "get", url).status_code == 404


def test_a_viewer_reads_aggregates_only(world, call):
    viewer = make_user("committee_a", unit=world.province_a, role="committee_member")
    assert call(viewer, "get", "/collection?period=2025").status_code == 200
    assert call(viewer, "get", "/revenue?period=2025").status_code == 200
    for url in ("/employers", "/remittances", "/reminders"):
        assert call(viewer, "get", url).status_code == 404, url
    assert call(viewer, "post", "/reminders/jobs", {"unit": world.province_a.pk}).status_code == 404


@pytest.mark.parametrize("url,code,field", [
    ("/collection?period=2099", "period_in_future", "period"),
    ("/collection?period=2025-13", "period_invalid", "period"),
    ("/revenue?period=Q9/2025", "period_invalid", "period"),
    ("/employers?period=abc", "period_invalid", "period"),
    ("/collection?unit=abc", "invalid", "unit"),
    ("/employers?limit=0", "invalid", "limit"),
])
def test_bad_input_is_422_with_a_code(world, call, url, code, field):
    response = call("province_a_chair", "get", url)
    assert response.status_code == 422
    assert (response.json()["code"], response.json()["field"]) == (code, field)


def test_bad_job_input(world, call):
    for body, code in (({"unit": world.province_a.pk, "as_of": "2099-01"}, "month_in_future"),
                       ({"unit": world.province_a.pk, "as_of": "31/2025"}, "month_invalid"),
                       ({"as_of": "12/2025"}, "required")):
        response = call("province_a_chair", "post", "/reminders/jobs", body)
        assert response.status_code == 422 and response.json()["code"] == code, body
    assert not ReminderJob.objects.exists() and not Reminder.objects.exists()


def test_without_a_key_401(world):
    client = Client()
    for url in ("/collection", "/employers", "/revenue", "/remittances", "/reminders"):
        response = client.get(BASE + url)
        assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_the_schema_declares_the_errors(client):
    schema = client.get("/api-test/openapi.json").json()
    operations = [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]
    assert {p for p, _m, _o in operations} >= {"/api-test/finance-reports/collection", "/api-test/finance-reports/employers",
                                               "/api-test/finance-reports/revenue", "/api-test/finance-reports/remittances",
                                               "/api-test/finance-reports/reminders", "/api-test/finance-reports/reminders/jobs",
                                               "/api-test/finance-reports/reminders/jobs/{job_id}"}
    for path, method, op in operations:
        for status in ("401", "404", "422"):
            assert op["responses"][status]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut"), (path, method)
        assert {next(iter(s)) for s in op["security"]} == {"ApiKeyAuth", "BrowserSessionAuth"}


def test_query_count_does_not_grow_with_branches(world, call):
    from congdoan.finance_reports.tests.test_dashboard import grow

    def queries(url):
        with CaptureQueriesContext(connection) as ctx:
            assert call("province_b_chair", "get", url).status_code == 200
        return len(ctx.captured_queries)

    urls = ("/collection?period=2025", "/employers?period=2025", "/revenue?period=2025", "/remittances?period=2025")
    grow(world, 0, 1)
    for url in urls:
        queries(url)
    before = {url: queries(url) for url in urls}
    grow(world, 1, 49)
    assert {url: queries(url) for url in urls} == before


def test_the_monthly_reminder_schedule_through_the_api(world, call):
    a = world.province_a.pk
    assert call("province_a_chair", "get", f"/reminders/schedule?unit={a}").json() == {
        "unit_id": a, "scheduled": False, "day_of_month": None, "enabled": False, "language": "", "last_run_month": None}
    response = call("province_a_chair", "put", "/reminders/schedule", {"unit": a, "day_of_month": 7, "language": "en"})
    assert response.status_code == 200, response.content
    assert response.json() == {"unit_id": a, "scheduled": True, "day_of_month": 7, "enabled": True, "language": "en",
                               "last_run_month": None}
    assert ReminderSchedule.objects.get(unit=world.province_a).created_by == world.province_a_chair
    off = call("province_a_chair", "put", "/reminders/schedule", {"unit": a, "day_of_month": 7, "enabled": False}).json()
    assert off["enabled"] is False and call("province_a_chair", "get", f"/reminders/schedule?unit={a}").json()["enabled"] is False
    bad = call("province_a_chair", "put", "/reminders/schedule", {"unit": a, "day_of_month": 31})
    assert bad.status_code == 422 and (bad.json()["code"], bad.json()["field"]) == ("day_invalid", "day_of_month")
    for who in ("province_b_chair", "outsider", "member_user"):
        assert call(who, "get", f"/reminders/schedule?unit={a}").status_code == 404, who
        assert call(who, "put", "/reminders/schedule", {"unit": a, "day_of_month": 3}).status_code == 404, who
    assert ReminderSchedule.objects.get(unit=world.province_a).day_of_month == 7
