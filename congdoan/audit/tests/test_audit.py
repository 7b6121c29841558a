"""The audit log: no citizen ID ever reaches it, officials read only their subtree's entries,
and its page costs the same number of queries for 1 row as for 50."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from congdoan.audit.models import AuditEntry
from congdoan.audit.services import MASK
from congdoan.members.models import Member

pytestmark = pytest.mark.django_db

NEW_CCCD = "025088999111"  # member_a (male, 1988) gets a corrected citizen ID


def audit_text() -> str:
    rows = AuditEntry.objects.values("action", "object_type", "object_id", "object_repr", "unit_path", "changes", "request_id")
    return json.dumps(list(rows), ensure_ascii=False, default=str)


def test_the_audit_log_never_holds_a_citizen_id(personas, client):
    a = Member.objects.get(pk=personas.member_a.pk)
    old_cccd = a.citizen_id
    client.force_login(personas.province_a_chair)
    # admit, view, edit the CCCD, transfer, suspend, give an account: all through the pages
    response = client.post("/members/new/", {
        "unit": personas.grassroots_a.pk, "full_name": "Phạm Thị Lan", "date_of_birth": "1992-04-12", "gender": "female",
        "citizen_id": "025192004321", "joined_on": "2016-06-01", "ethnicity": "Mường", "religion": "Công giáo"})
    assert response.status_code == 302
    new_member = Member.objects.get(citizen_id="025192004321")
    assert client.get(f"/members/{a.pk}/").status_code == 200
    edit = {"full_name": a.full_name, "date_of_birth": a.date_of_birth.isoformat(), "gender": a.gender, "citizen_id": NEW_CCCD,
            "ethnicity": "Tày", "religion": "Phật giáo", "phone": a.phone, "joined_on": a.joined_on.isoformat()}
    assert client.post(f"/members/{a.pk}/edit/", edit).status_code == 302
    assert Member.objects.get(pk=a.pk).citizen_id == NEW_CCCD
    client.post(f"/members/{new_member.pk}/transfer/", {"to_unit": "PA-G2"})
    client.post(f"/members/transfers/{new_member.transfers.get().pk}/accept/")
    client.post(f"/members/{a.pk}/status/", {"kind": "suspension", "on_date": "2024-01-02", "reason": "Tạm nghỉ"})
    client.post(f"/members/{personas.member_b.pk}/account/", {"password": "Mat-khau-2026!"})  # B: 404, nothing logged

    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"member.admitted", "member.viewed", "member.updated", "member.transfer_requested", "member.transferred",
            "member.suspension"} <= actions
    updated = AuditEntry.objects.get(action="member.updated", object_id=str(a.pk))
    assert updated.changes["citizen_id"] == [MASK, MASK]
    assert updated.changes["ethnicity"] == [MASK, MASK] and updated.changes["religion"] == [MASK, MASK]
    admitted = AuditEntry.objects.get(action="member.admitted", object_id=str(new_member.pk))
    assert admitted.changes["citizen_id"] == [MASK, MASK]

    text = audit_text()
    for cccd in {old_cccd, NEW_CCCD, "025192004321", *Member.objects.values_list("citizen_id", flat=True)}:
        assert cccd not in text, f"citizen ID {cccd} found in the audit log"
    for secret in ("Tày", "Phật giáo", "Mường", "Công giáo"):
        assert secret not in text
    html = client.get("/audit/").content.decode()
    assert NEW_CCCD not in html and old_cccd not in html and MASK in html


def test_entries_carry_the_request_id(personas, client):
    client.force_login(personas.grassroots_a_chair)
    client.get(f"/members/{personas.member_a.pk}/", headers={"x-request-id": "req-kiem-tra-42"})
    entry = AuditEntry.objects.get(action="member.viewed")
    assert entry.request_id == "req-kiem-tra-42" and entry.actor == personas.grassroots_a_chair


@pytest.mark.parametrize("who,visible", [
    ("grassroots_a_chair", True), ("province_a_chair", True), ("national_chair", True),
    ("province_b_chair", False), ("accountant_a", False), ("outsider", False), ("member_user", False),
])
def test_who_reads_a_members_history(personas, client, who, visible):
    client.force_login(personas.users[who])
    response = client.get(f"/audit/?object_type=members.member&object_id={personas.member_a.pk}")
    assert response.status_code == 200
    rows = list(response.context["page"])
    assert bool(rows) is visible
    assert all(r.object_id == str(personas.member_a.pk) for r in rows)
    assert (personas.member_a.full_name in response.content.decode()) is visible


def test_audit_list_queries_do_not_grow(personas, client):
    path = personas.grassroots_b.path
    actors = [personas.province_b_chair, personas.national_chair, None]

    def entries(n, offset=0):
        AuditEntry.objects.bulk_create([
            AuditEntry(actor=actors[i % 3], action="test.bulk", object_type="members.member", object_id=str(i),
                       object_repr=f"Đoàn viên {i}", unit_path=path, changes={"phone": ["0900000000", f"09{i:08d}"]})
            for i in range(offset, offset + n)])

    client.force_login(personas.province_b_chair)
    entries(1)
    client.get("/audit/?action=test.")
    with CaptureQueriesContext(connection) as one:
        response = client.get("/audit/?action=test.")
    assert response.context["page"].paginator.count == 1
    entries(49, offset=1)
    with CaptureQueriesContext(connection) as many:
        response = client.get("/audit/?action=test.")
    assert response.context["page"].paginator.count == 50
    assert len(many.captured_queries) == len(one.captured_queries)
