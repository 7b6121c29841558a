"""Every action code the code base records has a label, and the audit page shows labels, not codes.

The source is read with ``ast``: every call of ``audit_record`` (or of a helper that passes one of
its parameters on as ``action``, such as ``accounts.services._audit_account``) and every
``AuditEntry(...)`` built by hand. A code that cannot be read (a variable that is not a forwarded
parameter) fails the test too, so no code slips past it.
"""

import ast
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

import congdoan
from congdoan.audit.labels import ACTION_LABELS, action_label, change_rows
from congdoan.audit.models import AuditEntry
from congdoan.audit.services import MASK

SOURCE = Path(congdoan.__file__).parent
WRITERS = {"audit_record", "AuditEntry", "AuditEntry.objects.create"}


def _callee(func) -> str:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def _is_writer(name: str, wrappers: dict) -> bool:
    return name in WRITERS or name.rsplit(".", 1)[-1] in ({"audit_record"} | set(wrappers))


class _Scan(ast.NodeVisitor):
    """Collects, for one module, the action expressions passed to writers and the wrappers it defines."""

    def __init__(self, where: str, wrappers: dict):
        self.where, self.wrappers = where, wrappers
        self.functions: list[ast.FunctionDef] = []
        self.found: list[tuple[str, ast.expr]] = []  # (file:line, action expression)
        self.new_wrappers: dict[str, int | None] = {}

    def visit_FunctionDef(self, node):
        self.functions.append(node)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node):
        name = _callee(node.func)
        if _is_writer(name, self.wrappers):
            action = next((k.value for k in node.keywords if k.arg == "action"), None)
            position = self.wrappers.get(name.rsplit(".", 1)[-1])
            if action is None and position is not None and len(node.args) > position:
                action = node.args[position]
            if action is not None:
                args = self.functions[-1].args if self.functions else None
                positional = [a.arg for a in args.posonlyargs + args.args] if args else []
                keyword_only = [a.arg for a in args.kwonlyargs] if args else []
                if isinstance(action, ast.Name) and action.id in positional + keyword_only:
                    # forwarded: the enclosing function is a wrapper; its callers pass the code
                    self.new_wrappers[self.functions[-1].name] = (
                        positional.index(action.id) if action.id in positional else None)
                else:
                    self.found.append((f"{self.where}:{node.lineno}", action))
        self.generic_visit(node)


def _codes(expr) -> tuple[set[str], set[str], bool]:
    """(literal codes, regex patterns of f-strings, readable?) of one action expression."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}, set(), True
    if isinstance(expr, ast.IfExp):
        a, b = _codes(expr.body), _codes(expr.orelse)
        return a[0] | b[0], a[1] | b[1], a[2] and b[2]
    if isinstance(expr, ast.JoinedStr):
        pattern = "".join(re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z0-9_]+" for v in expr.values)
        return set(), {pattern}, True
    return set(), set(), False


def scan(sources: dict[str, str]) -> tuple[set[str], set[str], list[str]]:
    """Action codes recorded by ``sources`` ({where: python source}): literal codes, f-string
    patterns, and the places whose code cannot be read."""
    trees = {where: ast.parse(text) for where, text in sources.items()}
    wrappers: dict[str, int | None] = {}
    while True:  # a wrapper of a wrapper is found on the next round
        found, discovered = [], {}
        for where, tree in trees.items():
            visitor = _Scan(where, wrappers)
            visitor.visit(tree)
            found += visitor.found
            discovered.update(visitor.new_wrappers)
        discovered.pop("audit_record", None)
        if discovered.keys() <= wrappers.keys():
            break
        wrappers.update(discovered)
    codes, patterns, unreadable = set(), set(), []
    for where, expr in found:
        literal, pattern, readable = _codes(expr)
        codes |= literal
        patterns |= pattern
        if not readable:
            unreadable.append(f"{where}: {ast.unparse(expr)}")
    return codes, patterns, unreadable


def project_sources() -> dict[str, str]:
    return {str(p.relative_to(SOURCE.parent)): p.read_text(encoding="utf-8") for p in sorted(SOURCE.rglob("*.py"))
            if "tests" not in p.parts and "migrations" not in p.parts}


# -- the source scan ---------------------------------------------------------------------------------------------------
def test_the_scan_finds_codes_in_every_form_and_reports_what_it_cannot_read():
    codes, patterns, unreadable = scan({"a.py": '''
def _log(actor, action, obj):
    audit_record(actor=actor, action=action, obj=obj, unit_path="")

def _log_twice(actor, what):
    _log(actor, what, None)

def f(x, kind, code):
    audit_record(actor=None, action="thing.done", obj=x, unit_path="")
    audit_record(actor=None, action="thing.made" if x else "thing.changed", obj=x, unit_path="")
    _log(None, "thing.logged", x)
    _log_twice(None, "thing.twice")
    AuditEntry(action="thing.bulk", object_type="a.b")
    AuditEntry.objects.create(action="thing.created")
    audit_record(actor=None, action=f"thing.{kind}", obj=x, unit_path="")
    audit_record(actor=None, action=CODES[code], obj=x, unit_path="")
'''})
    assert codes == {"thing.done", "thing.made", "thing.changed", "thing.logged", "thing.twice", "thing.bulk", "thing.created"}
    assert patterns == {r"thing\.[a-z0-9_]+"}
    assert unreadable == ["a.py:16: CODES[code]"]


def test_every_recorded_action_code_has_a_label():
    codes, patterns, unreadable = scan(project_sources())
    # the scan sees the project: codes of each kind of call site
    assert len(codes) >= 50
    assert {"member.imported", "payments.line_requeued", "api_token.created", "finance.member_salary_set",
            "finance.rule_created", "finance.rule_changed"} <= codes
    assert r"member\.[a-z0-9_]+" in patterns
    assert not unreadable, "action codes the label test cannot read; pass a literal code:\n" + "\n".join(unreadable)
    missing = sorted(codes - ACTION_LABELS.keys())
    assert not missing, f"add these action codes to congdoan/audit/labels.py ACTION_LABELS: {missing}"
    for pattern in patterns:
        assert any(re.fullmatch(pattern, code) for code in ACTION_LABELS), f"no label matches the codes of f-string {pattern}"


def test_every_member_status_change_has_a_label():
    from congdoan.members.services import _STATUS_CHANGES  # the kinds of f"member.{kind}"

    missing = [f"member.{kind}" for kind in _STATUS_CHANGES if f"member.{kind}" not in ACTION_LABELS]
    assert not missing


def test_no_label_for_a_code_that_nothing_records():
    codes, patterns, _unreadable = scan(project_sources())
    stale = [code for code in ACTION_LABELS if code not in codes and not any(re.fullmatch(p, code) for p in patterns)]
    assert not stale, f"labels of codes that no code records (renamed?): {stale}"


# -- labels on their own -----------------------------------------------------------------------------------------------
def test_an_unknown_code_or_field_is_shown_as_stored(settings):
    settings.LANGUAGE_CODE = "en"
    assert action_label("something.new") == "something.new"
    entry = AuditEntry(action="something.new", object_type="nowhere.nothing", changes={"odd_key": [1, 2], "flag": True})
    assert change_rows(entry) == [
        {"key": "odd_key", "label": "odd_key", "pair": True, "old": "1", "new": "2"},
        {"key": "flag", "label": "flag", "pair": False, "value": "Yes"},
    ]


def test_fields_take_the_models_name_then_the_import_labels_and_choices_show_their_label():
    from django.utils import translation

    with translation.override("en"):
        rows = {r["key"]: r for r in change_rows(AuditEntry(
            action="member.updated", object_type="members.member",
            changes={"full_name": ["A", "B"], "unit_id": [1, 2], "status": ["active", "suspended"],
                     "citizen_id": [MASK, MASK], "file_sha256": "ab12", "months": ["2024-01-01", "2024-02-01"]}))}
        assert rows["full_name"]["label"] == "Full name"
        assert rows["unit_id"]["label"] == "Unit"
        assert (rows["status"]["label"], rows["status"]["old"], rows["status"]["new"]) == ("Status", "Active", "Suspended")
        assert (rows["citizen_id"]["old"], rows["citizen_id"]["new"]) == (MASK, MASK)
        assert rows["file_sha256"]["label"] == "SHA-256 of the file" and rows["file_sha256"]["value"] == "ab12"
        assert rows["months"]["pair"] is False and rows["months"]["value"] == "01/01/2024, 01/02/2024"
    with translation.override("vi"):
        rows = {r["key"]: r for r in change_rows(AuditEntry(
            object_type="members.member", changes={"full_name": ["A", "B"], "status": ["active", "suspended"],
                                                    "unit_id": [12345, 67890], "amount": [None, 1595712000]}))}
        assert rows["full_name"]["label"] == "Họ và tên"
        assert (rows["status"]["old"], rows["status"]["new"]) == ("Đang sinh hoạt", "Tạm dừng sinh hoạt")
        assert (rows["amount"]["old"], rows["amount"]["new"]) == ("∅", "1.595.712.000")  # đồng, grouped
        assert (rows["unit_id"]["old"], rows["unit_id"]["new"]) == ("12345", "67890")  # ids are not amounts


# -- the page ----------------------------------------------------------------------------------------------------------
@pytest.fixture
def empty_log(personas):
    """The personas, without the entries their making wrote."""
    AuditEntry.objects.all().delete()
    return personas


def _entry(personas, action, changes, object_type="members.member", object_id=None):
    return AuditEntry.objects.create(actor=personas.province_a_chair, action=action, object_type=object_type,
                                     object_id=str(object_id or personas.member_a.pk), object_repr="Đoàn viên A",
                                     unit_path=personas.grassroots_a.path, changes=changes)


def _cell_texts(html: str, label: str) -> list[str]:
    """The text of the table cells with ``data-label=label``, tags stripped."""
    cells = re.findall(rf'<td data-label="{re.escape(label)}">(.*?)</td>', html, flags=re.S)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in cells]


@pytest.mark.django_db
def test_the_page_shows_labels_in_vietnamese_and_in_english(personas, empty_log, client):
    _entry(personas, "member.updated", {"full_name": ["Nguyễn Văn A", "Nguyễn Văn B"], "citizen_id": [MASK, MASK]})
    _entry(personas, "member.imported", {"file": "ds.xlsx", "file_sha256": "ab12", "rows": 3, "created": 2, "updated": 1},
           object_type="imports.importjob", object_id=7)
    client.force_login(personas.province_a_chair)

    html = client.get("/audit/").content.decode()  # Vietnamese by default
    changes = " ".join(_cell_texts(html, "Nội dung thay đổi"))
    assert "Họ và tên: Nguyễn Văn A → Nguyễn Văn B" in changes
    assert "Số căn cước công dân (CCCD): ••• → •••" in changes
    assert "full_name" not in changes and "citizen_id" not in changes

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get("/audit/").content.decode()
    actions = _cell_texts(html, "Action")
    assert actions == ["Members imported from a file", "Member record changed"]
    changes = " ".join(_cell_texts(html, "Changes"))
    for text in ("File: ds.xlsx", "SHA-256 of the file: ab12", "Rows: 3", "Records created: 2", "Records updated: 1",
                 "Full name: Nguyễn Văn A → Nguyễn Văn B", "Citizen ID (CCCD): ••• → •••"):
        assert text in changes, text
    for raw in ("member.imported", "member.updated", "file_sha256", "full_name", "citizen_id"):
        assert raw not in " ".join(actions) + changes


@pytest.mark.django_db
def test_the_action_filter_lists_labels_and_filters_by_code_or_group(personas, empty_log, client):
    _entry(personas, "member.transfer_requested", {"to_unit_id": [None, personas.grassroots_b.pk]})
    _entry(personas, "member.transferred", {"unit_id": [personas.grassroots_a.pk, personas.grassroots_b.pk]})
    _entry(personas, "unit.updated", {"name": ["A", "B"]}, object_type="organizations.unit", object_id=personas.grassroots_a.pk)
    client.force_login(personas.province_a_chair)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    html = client.get("/audit/").content.decode()
    options = dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', html))
    assert options["member.transferred"] == "Member transferred"
    assert options["member."] == "Members: all actions"
    assert set(ACTION_LABELS) <= options.keys()

    def shown(query):
        return sorted(e.action for e in client.get(f"/audit/?{query}").context["page"])

    # one code is exact: "member.transfer_requested" is not a "member.transfer..." prefix match
    assert shown("action=member.transferred") == ["member.transferred"]
    assert shown("action=member.") == ["member.transfer_requested", "member.transferred"]
    assert shown("action=unit.updated") == ["unit.updated"]
    # a typed prefix still works and stays selected in the list
    response = client.get("/audit/?action=member.transfer")
    assert sorted(e.action for e in response.context["page"]) == ["member.transfer_requested", "member.transferred"]
    assert '<option value="member.transfer" selected>' in response.content.decode()
    # the object filter of a history page survives a change of action
    html = client.get(f"/audit/?object_type=members.member&object_id={personas.member_a.pk}").content.decode()
    assert f'name="object_id" value="{personas.member_a.pk}"' in html and 'name="object_type" value="members.member"' in html


@pytest.mark.django_db
def test_budget_lines_are_named_by_their_spending_category(personas, empty_log, client):
    _entry(personas, "budget.lines_changed", {"salary": [0, 10_000_000], "no_such_heading": [5, 0]},
           object_type="budgets.budget", object_id=1)
    client.force_login(personas.province_a_chair)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    changes = " ".join(_cell_texts(client.get("/audit/").content.decode(), "Changes"))
    assert "Salaries of full-time union officials: 0 → 10,000,000" in changes
    assert "no_such_heading: 5 → 0" in changes  # a heading that is gone shows its code
    assert "Salary for social insurance" not in changes  # a category code is no field name


@pytest.mark.django_db
def test_labelled_page_queries_do_not_grow(personas, empty_log, client):
    # every action once, budget lines (named through one query per page) first and on every page
    actions = ["budget.lines_changed", *(a for a in ACTION_LABELS if a != "budget.lines_changed")]
    member = personas.member_a

    def entries(n, offset=0):
        AuditEntry.objects.bulk_create([
            AuditEntry(actor=personas.province_a_chair, action=actions[i % len(actions)], object_type="members.member",
                       object_id=str(member.pk), object_repr=str(i), unit_path=personas.grassroots_a.path,
                       changes={"status": ["active", "suspended"], "unit_id": [1, 2], "file": "x.csv", "rows": i,
                                "salary": [0, i], "allowance": [i, 0]})
            for i in range(offset, offset + n)])

    client.force_login(personas.province_a_chair)
    url = f"/audit/?object_type=members.member&object_id={member.pk}"
    entries(2)  # a budget entry (category names) and a member entry (unit names): one query each per page
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        response = client.get(url)
    assert response.context["page"].paginator.count == 2
    entries(48, offset=2)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.context["page"].paginator.count == 50
    html = response.content.decode()
    assert "Tạm dừng sinh hoạt" in html and "<b>Phụ cấp cán bộ công đoàn</b>" in html
    assert len(many.captured_queries) == len(one.captured_queries)


@pytest.mark.django_db
def test_unit_ids_show_the_units_name_only_where_the_reader_may_see_it(personas, empty_log, client):
    p = personas
    _entry(p, "member.transferred", {"unit_id": [p.grassroots_a.pk, p.grassroots_b.pk]})
    client.force_login(p.province_a_chair)
    changes = " ".join(_cell_texts(client.get("/audit/").content.decode(), "Nội dung thay đổi"))
    # his own union is named; the receiving union of province B stays a number
    assert f"{p.grassroots_a.name} ({p.grassroots_a.code}) → {p.grassroots_b.pk}" in changes
    assert p.grassroots_b.name not in changes
    client.force_login(p.national_chair)
    changes = " ".join(_cell_texts(client.get("/audit/").content.decode(), "Nội dung thay đổi"))
    assert f"{p.grassroots_a.name} ({p.grassroots_a.code}) → {p.grassroots_b.name} ({p.grassroots_b.code})" in changes
