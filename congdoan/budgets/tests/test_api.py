"""Budgets and spending in the JSON API: scoped like the pages (404 outside), the services' rules
with their codes (422), nothing written by a refused call, the schema's error answers, constant
query counts.

Called for real through the test client with API keys, as a program would. This module is also the
test URLconf: the project's URLs plus an API that holds only the budgets router (congdoan/api.py
mounts the same router once the lead adds it there).
"""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import path
from django.utils import timezone
from ninja import NinjaAPI

from congdoan.accounts.services import api_token_create
from congdoan.audit.models import AuditEntry
from congdoan.budgets import services
from congdoan.budgets.api import build_router
from congdoan.budgets.models import Budget, Expense
from congdoan.budgets.tests.conftest import YEAR, day, make_budget, pdf, record
from congdoan.core.api_auth import ApiKeyAuth, BrowserSessionAuth, install_error_handlers
from congdoan.organizations.services import unit_create
from congdoan.urls import urlpatterns as project_urls

api = NinjaAPI(title="budgets test", urls_namespace="budgets_test_api", auth=[ApiKeyAuth(), BrowserSessionAuth()])
install_error_handlers(api)
api.add_router("/budgets", build_router())
urlpatterns = [*project_urls, path("api-budgets-test/", api.urls)]

BASE = "/api-budgets-test/budgets"
USERS = ("province_a_chair", "province_b_chair", "grassroots_a_chair", "accountant_a", "national_chair", "outsider", "member_user")

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = __name__


class Caller:
    """Calls the API with a persona's key, the way a program would."""

    def __init__(self, personas):
        self.keys = {who: api_token_create(actor=personas.users[who], name=f"test {who}")[1] for who in USERS}
        self.client = Client(enforce_csrf_checks=True)

    def __call__(self, method, url, who=None, json=None, form=None):
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        if method == "get":
            response = self.client.get(BASE + url, headers=headers)
        elif form is not None:
            response = self.client.post(BASE + url, data=form, headers=headers)
        else:
            import json as json_module

            response = self.client.post(BASE + url, data=json_module.dumps(json or {}), content_type="application/json", headers=headers)
        response.data = response.json() if response.get("Content-Type", "").startswith("application/json") else None
        return response


@pytest.fixture
def call(personas):
    return Caller(personas)


def expense_form(p, **overrides):
    form = {"unit_id": p.grassroots_a.pk, "category": "activities", "amount": "1500000", "spent_on": day(3).isoformat(),
            "description": "Tổ chức Ngày hội Công nhân", "payee": "Nhà văn hóa huyện", "document_number": "PC-01",
            "document_date": day(3).isoformat(), "paid_from": "bank", "document": pdf()}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def a_markers(p) -> list[str]:
    return [p.grassroots_a.name, "PA-G1", p.upper_a.name, "Tổ chức Ngày hội Công nhân", "accountant_a"]


# -- reading ----------------------------------------------------------------------------------------------------------
def test_budgets_list_read_and_report(personas, call):
    p = personas
    budget = make_budget(p, amounts={"activities": 10_000_000, "visits": 2_000_000})
    services.expense_approve(actor=p.grassroots_a_chair, expense=record(p, amount=1_500_000))
    make_budget(p, unit=p.grassroots_b, drafter=p.province_b_chair, approver=p.national_chair, amounts={"other": 9_000_000})

    page = call("get", f"/?year={YEAR}", "accountant_a").data
    assert page["count"] == 1 and page["items"][0]["id"] == budget.pk and page["items"][0]["total"] == 12_000_000
    assert page["items"][0]["unit"]["code"] == "PA-G1" and page["items"][0]["status"] == "approved"
    assert call("get", f"/?unit={p.upper_a.pk}", "province_a_chair").data["count"] == 1
    assert call("get", f"/?year={YEAR + 1}", "province_a_chair").data["count"] == 0

    read = call("get", f"/{budget.pk}", "province_a_chair").data
    assert read["drafted_by"] == "accountant_a" and read["approved_by"] == "grassroots_a_chair"
    lines = {line["category"]["code"]: line for line in read["lines"]}
    assert lines["activities"] == {"category": {"code": "activities", "name": lines["activities"]["category"]["name"]},
                                   "amount": 10_000_000, "spent": 1_500_000, "left": 8_500_000}
    assert lines["training"]["amount"] == 0  # every category in use is listed

    report = call("get", f"/report?unit={p.province_a.pk}&year={YEAR}", "province_a_chair").data
    assert report["unit"]["code"] == "PA" and report["subtree"] is True and report["approved_budget_id"] is None
    assert (report["totals"]["budgeted"], report["totals"]["actual"], report["totals"]["left"]) == (12_000_000, 1_500_000, 10_500_000)
    activities = next(r for r in report["rows"] if r["category"]["code"] == "activities")
    assert activities["percent"] == 15.0 and activities["over"] is False
    assert [c["unit"]["code"] for c in report["children"]] == ["PA-U"]
    own = call("get", f"/report?unit={p.grassroots_a.pk}&year={YEAR}&subtree=false", "accountant_a").data
    assert own["approved_budget_id"] == budget.pk and own["children"] == []
    # without a unit: the caller's top unit
    assert call("get", f"/report?year={YEAR}", "accountant_a").data["unit"]["code"] == "PA-G1"


def test_expenses_list_and_read(personas, call):
    p = personas
    make_budget(p)
    waiting = record(p, category="visits", amount=700_000)
    approved = services.expense_approve(actor=p.grassroots_a_chair, expense=record(p, amount=1_500_000))
    page = call("get", "/expenses", "accountant_a").data
    assert page["count"] == 2 and {e["id"] for e in page["items"]} == {waiting.pk, approved.pk}
    assert call("get", "/expenses?status=recorded", "accountant_a").data["items"][0]["id"] == waiting.pk
    assert call("get", "/expenses?category=visits", "accountant_a").data["count"] == 1
    assert call("get", f"/expenses?year={YEAR + 1}", "accountant_a").data["count"] == 0
    response = call("get", "/expenses?category=nope", "accountant_a")
    assert response.status_code == 422 and response.data["code"] == "category_invalid"
    response = call("get", "/expenses?status=paid", "accountant_a")
    assert response.status_code == 422 and response.data["field"] == "status"
    read = call("get", f"/expenses/{approved.pk}", "grassroots_a_chair").data
    assert (read["status"], read["amount"], read["recorded_by"], read["approved_by"], read["posted"]) == (
        "approved", 1_500_000, "accountant_a", "grassroots_a_chair", True)
    assert read["document_url"] == f"/budgets/expenses/{approved.pk}/document/" and read["document_name"] == "phieu-chi-PC01.pdf"


# -- recording, approving, cancelling ----------------------------------------------------------------------------------
def test_record_approve_and_cancel(personas, call):
    p = personas
    make_budget(p)
    response = call("post", "/expenses", "accountant_a", form=expense_form(p))
    assert response.status_code == 201, response.data
    expense = response.data
    assert (expense["status"], expense["amount"], expense["category"]["code"], expense["spent_on"]) == (
        "recorded", 1_500_000, "activities", day(3).isoformat())
    assert Expense.objects.get().document_name == "phieu-chi-PC01.pdf"
    # the accountant is no approver; the chair is
    response = call("post", f"/expenses/{expense['id']}/approve", "accountant_a")
    assert response.status_code == 422 and response.data["code"] == "not_approver"
    response = call("post", f"/expenses/{expense['id']}/approve", "grassroots_a_chair")
    assert response.status_code == 200 and response.data["status"] == "approved" and response.data["approved_by"] == "grassroots_a_chair"
    response = call("post", f"/expenses/{expense['id']}/approve", "province_a_chair")
    assert response.status_code == 422 and response.data["code"] == "not_waiting"
    # cancelling an approved expense needs a reason, and answers the reversal
    response = call("post", f"/expenses/{expense['id']}/cancel", "grassroots_a_chair", json={"reason": "  "})
    assert response.status_code == 422 and response.data["code"] == "reason_required"
    response = call("post", f"/expenses/{expense['id']}/cancel", "grassroots_a_chair", json={"reason": "Ghi nhầm số tiền"})
    assert response.status_code == 200
    assert (response.data["kind"], response.data["amount"], response.data["reverses_id"]) == ("reversal", -1_500_000, expense["id"])
    # one waiting for approval is simply cancelled
    waiting = call("post", "/expenses", "accountant_a", form=expense_form(p, amount="700000", category="visits")).data
    response = call("post", f"/expenses/{waiting['id']}/cancel", "accountant_a", json={"reason": "Trùng chứng từ"})
    assert response.status_code == 200 and response.data["status"] == "cancelled" and response.data["reason"] == "Trùng chứng từ"


def test_the_person_who_recorded_an_expense_cannot_approve_it(personas, call):
    p = personas
    make_budget(p)
    expense = call("post", "/expenses", "grassroots_a_chair", form=expense_form(p)).data
    response = call("post", f"/expenses/{expense['id']}/approve", "grassroots_a_chair")
    assert response.status_code == 422 and response.data["code"] == "same_person"
    assert Expense.objects.get().status == "recorded"
    assert call("post", f"/expenses/{expense['id']}/approve", "province_a_chair").status_code == 200


def _ten_kb_exe():
    return SimpleUploadedFile("phieu-chi.pdf", b"MZ\x90\x00" + b"0" * 10_000, content_type="application/pdf")


@pytest.mark.parametrize("overrides,status,code,field", [
    ({"amount": "0"}, 422, "amount_zero", "amount"),
    ({"amount": "-1500000"}, 422, "amount_negative", "amount"),
    ({"amount": "1.234.567"}, 422, "invalid", "amount"),  # the API takes whole numbers; the form reads 1.234.567
    ({"amount": "1500000.5"}, 422, "invalid", "amount"),
    ({"amount": "20000000"}, 422, "budget_overdrawn", "amount"),
    ({"spent_on": (timezone.localdate() + datetime.timedelta(days=1)).isoformat()}, 422, "date_future", "spent_on"),
    ({"spent_on": "03/02/2025"}, 422, "invalid", "spent_on"),
    ({"document": None}, 422, "document_missing", "document"),
    ({"document": "exe"}, 422, "document_type", "document"),
    ({"document_number": ""}, 422, "document_missing", "document_number"),
    ({"category": "nope"}, 422, "category_invalid", "category"),
    ({"description": ""}, 422, "required", "description"),
    ({"unit_id": "grassroots_b"}, 422, "not_found", "unit_id"),
    ({"unit_id": "grassroots_a2"}, 422, "not_found", "unit_id"),  # a sibling union: not the accountant's books
    ({"unit_id": None}, 422, "required", "unit_id"),
])
def test_bad_expenses_are_refused_with_their_code_and_nothing_is_written(personas, call, overrides, status, code, field):
    p = personas
    make_budget(p)
    if overrides.get("document") == "exe":
        overrides["document"] = _ten_kb_exe()
    if isinstance(overrides.get("unit_id"), str):
        overrides["unit_id"] = p.units[overrides["unit_id"]].pk
    before = (Expense.objects.count(), AuditEntry.objects.count())
    response = call("post", "/expenses", "accountant_a", form=expense_form(p, **overrides))
    assert (response.status_code, response.data["code"], response.data["field"]) == (status, code, field), response.data
    assert (Expense.objects.count(), AuditEntry.objects.count()) == before


def test_no_approved_budget_no_spending(personas, call):
    p = personas
    make_budget(p, approver=False)  # a draft only
    response = call("post", "/expenses", "accountant_a", form=expense_form(p))
    assert response.status_code == 422 and response.data["code"] == "no_budget"
    assert not Expense.objects.exists()


def test_two_expenses_that_together_overdraw_cannot_both_be_approved(personas, call):
    p = personas
    make_budget(p, amounts={"activities": 2_000_000})
    first = call("post", "/expenses", "accountant_a", form=expense_form(p, amount="1500000")).data
    second = call("post", "/expenses", "accountant_a", form=expense_form(p, amount="1000000")).data
    assert call("post", f"/expenses/{first['id']}/approve", "grassroots_a_chair").status_code == 200
    response = call("post", f"/expenses/{second['id']}/approve", "grassroots_a_chair")
    assert response.status_code == 422 and response.data["code"] == "budget_overdrawn"
    assert Expense.objects.get(pk=second["id"]).status == "recorded"


# -- scope -------------------------------------------------------------------------------------------------------------
def test_everything_of_province_a_is_404_from_outside(personas, call):
    p = personas
    budget = make_budget(p)
    expense = record(p)
    before = (list(Expense.objects.values_list("pk", "status", "amount")), Budget.objects.count(), AuditEntry.objects.count())
    for who in ("province_b_chair", "outsider", "member_user"):
        for method, url, body in (
                ("get", f"/{budget.pk}", None), ("get", f"/expenses/{expense.pk}", None),
                ("get", f"/?unit={p.grassroots_a.pk}", None), ("get", f"/expenses?unit={p.grassroots_a.pk}", None),
                ("get", f"/report?unit={p.grassroots_a.pk}&year={YEAR}", None),
                ("post", f"/expenses/{expense.pk}/approve", {}), ("post", f"/expenses/{expense.pk}/cancel", {"reason": "x"})):
            response = call(method, url, who, json=body)
            assert response.status_code == 404, f"{who} {method} {url}: {response.status_code}"
            assert response.data == {"code": "not_found", "field": None, "message": response.data["message"], "errors": []}
        for url in ("/", "/expenses"):
            data = call("get", url, who).data
            assert data["count"] == 0 and data["items"] == [], f"{who} {url}"
        response = call("post", "/expenses", who, form=expense_form(p))
        assert response.status_code == 422 and (response.data["code"], response.data["field"]) == ("not_found", "unit_id")
        assert not [m for m in a_markers(p) if m in response.content.decode()]
    # a member and a login without a role have no report at all; province B's chair gets his own
    assert call("get", f"/report?year={YEAR}", "outsider").status_code == 404
    assert call("get", f"/report?year={YEAR}", "province_b_chair").data["unit"]["code"] == "PB"
    assert (list(Expense.objects.values_list("pk", "status", "amount")), Budget.objects.count(), AuditEntry.objects.count()) == before
    # a missing id answers the same as one outside scope
    assert call("get", "/expenses/987654", "province_b_chair").data == call("get", f"/expenses/{expense.pk}", "province_b_chair").data


def test_without_a_key_the_api_answers_401(personas, call):
    response = call("get", "/expenses")
    assert response.status_code == 401 and response.data["code"] == "unauthorized"
    response = call("post", "/expenses", form=expense_form(personas))
    assert response.status_code == 401 and not Expense.objects.exists()


def test_every_operation_declares_its_errors(client):
    schema = client.get("/api-budgets-test/openapi.json").json()
    operations = {(method.upper(), route): op for route, ops in schema["paths"].items() for method, op in ops.items()}
    assert set(operations) == {
        ("GET", "/api-budgets-test/budgets/"), ("GET", "/api-budgets-test/budgets/report"),
        ("GET", "/api-budgets-test/budgets/{budget_id}"), ("GET", "/api-budgets-test/budgets/expenses"),
        ("POST", "/api-budgets-test/budgets/expenses"), ("GET", "/api-budgets-test/budgets/expenses/{expense_id}"),
        ("POST", "/api-budgets-test/budgets/expenses/{expense_id}/approve"),
        ("POST", "/api-budgets-test/budgets/expenses/{expense_id}/cancel"),
    }
    for key, op in operations.items():
        for code in ("401", "404", "422"):
            assert op["responses"][code]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut"), key
    upload = operations[("POST", "/api-budgets-test/budgets/expenses")]["requestBody"]["content"]
    assert "multipart/form-data" in upload


# -- query counts ----------------------------------------------------------------------------------------------------------
def _count(call, url, who="province_a_chair") -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert call("get", url, who).status_code == 200
    return len(ctx.captured_queries)


def test_lists_cost_the_same_queries_for_1_and_50_rows(personas, call):
    p = personas

    def grow(n, offset):
        for i in range(offset, offset + n):
            unit = unit_create(actor=None, parent=p.upper_a, level="grassroots", code=f"PA-X{i}", name=f"CĐCS {i}", employer_type="fdi")
            make_budget(p, unit=unit, drafter=p.province_a_chair, approver=p.national_chair, amounts={"activities": 5_000_000})
            expense = record(p, actor=p.province_a_chair, unit=unit, amount=100_000 + i, spent_on=day(1 + i % 12, 10))
            if i % 2:
                services.expense_approve(actor=p.national_chair, expense=expense)

    urls = ["/", f"/?year={YEAR}", "/expenses", f"/expenses?year={YEAR}&category=activities",
            f"/report?unit={p.province_a.pk}&year={YEAR}"]
    grow(1, 0)
    call("get", "/", "province_a_chair")  # the first request of a key also notes when it was used
    one = [_count(call, url) for url in urls]
    grow(49, 1)
    fifty = [_count(call, url) for url in urls]
    assert one == fifty, list(zip(urls, one, fifty))
    assert call("get", "/expenses", "province_a_chair").data["count"] == 50
