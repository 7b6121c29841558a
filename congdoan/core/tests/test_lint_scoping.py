"""Lint: views and API endpoints read scoped models only through ``restrict(user, action)``.

A scoped model is any model with a manager whose queryset is a ScopedQuerySet (found with
``apps.get_models()``, so a new app's models are covered). In every ``views.py``, ``api.py``,
``*_views.py`` and ``views/*.py`` / ``api/*.py`` under ``congdoan/``, a chain that starts at
``Model.objects`` (or ``_default_manager``/``_base_manager``) must contain ``.restrict(`` (or
``.incoming_for(``, which scopes by the receiving unit); passing the model or its bare manager
to ``get_object_or_404``/``get_list_or_404`` is refused too.

Known safe exceptions live in ALLOWED with the reason. An entry that no longer matches any
code fails the test too, so the list cannot rot.
"""

import ast
from pathlib import Path

import pytest
from django.apps import apps

from congdoan.core.scoping import ScopedQuerySet

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "congdoan"

#: methods that scope a chain to the user
SCOPING_METHODS = {"restrict", "incoming_for"}
#: methods that return nothing, whatever the scope
HARMLESS_METHODS = {"none"}
SHORTCUTS = {"get_object_or_404", "get_list_or_404", "aget_object_or_404", "aget_list_or_404"}

#: (file, enclosing function, chain without arguments) -> why it is safe
ALLOWED = {
    ("congdoan/members/views.py", "_own_member", "Member.objects.select_related.filter.first"):
        "the member's own record: filtered by user=request.user",
    ("congdoan/members/views.py", "card_verify", "Member.objects.select_related.filter.first"):
        "public card check: the member code comes from a token signed by the server",
    ("congdoan/members/views.py", "member_edit", "Member.objects.get"):
        "fresh instance for the form; the pk comes from selectors.member_get(action=CHANGE), which restricts",
    ("congdoan/organizations/views.py", "unit_edit", "Unit.objects.get"):
        "fresh instance for the form; the pk comes from selectors.unit_get(action=CHANGE), which restricts",
    ("congdoan/organizations/views.py", "unit_detail", "Unit.objects.ancestors_of"):
        "breadcrumb of an in-scope unit; the next expression keeps only ancestors under granted_paths",
}


def scoped_models() -> tuple[set[str], set[str]]:
    """(class names of scoped models, names of their managers)."""
    models, managers = set(), {"_default_manager", "_base_manager"}
    for model in apps.get_models():
        for manager in model._meta.managers:
            if isinstance(manager.get_queryset(), ScopedQuerySet):
                models.add(model.__name__)
                managers.add(manager.name)
    return models, managers


def source_files() -> list[Path]:
    files = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if "tests" in rel.parts or "migrations" in rel.parts:
            continue
        if path.name in ("views.py", "api.py") or path.name.endswith("_views.py") or path.parent.name in ("views", "api"):
            files.append(path)
    return files


def _model_name(node) -> str | None:
    """``Member`` for ``Member`` or ``models.Member``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def find_unscoped(source: str, filename: str, models: set[str], managers: set[str]) -> list[dict]:
    """Every chain on a scoped manager (or shortcut on a scoped model) that is not restricted."""
    tree = ast.parse(source, filename)
    parents = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node

    def function_of(node) -> str:
        while node in parents:
            node = parents[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return node.name
        return "<module>"

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in managers and _model_name(node.value) in models:
            model = _model_name(node.value)
            methods, top = [], node
            while True:
                parent = parents.get(top)
                if isinstance(parent, ast.Attribute) and parent.value is top:
                    methods.append(parent.attr)
                    top = parent
                elif isinstance(parent, ast.Call) and parent.func is top:
                    top = parent
                else:
                    break
            if SCOPING_METHODS & set(methods) or (methods and set(methods) <= HARMLESS_METHODS):
                continue
            found.append({"file": filename, "line": node.lineno, "function": function_of(node),
                          "chain": ".".join([model, node.attr, *methods]), "code": ast.unparse(top)})
        elif isinstance(node, ast.Call) and _model_name(node.func) in SHORTCUTS and node.args:
            first = node.args[0]
            if isinstance(first, (ast.Name, ast.Attribute)) and _model_name(first) in models:
                found.append({"file": filename, "line": node.lineno, "function": function_of(node),
                              "chain": f"{_model_name(node.func)}({_model_name(first)})", "code": ast.unparse(node)})
    return found


def all_unscoped() -> list[dict]:
    models, managers = scoped_models()
    result = []
    for path in source_files():
        result += find_unscoped(path.read_text(), str(path.relative_to(ROOT)), models, managers)
    return result


def test_scoped_models_are_discovered():
    models, managers = scoped_models()
    assert {"Unit", "Member", "TransferRequest", "RoleAssignment", "AuditEntry"} <= models
    assert "objects" in managers


def test_the_lint_reads_the_views():
    files = {str(p.relative_to(ROOT)) for p in source_files()}
    assert {"congdoan/members/views.py", "congdoan/organizations/views.py", "congdoan/accounts/views.py",
            "congdoan/audit/views.py", "congdoan/api.py"} <= files


@pytest.mark.parametrize("code,flagged", [
    ("Member.objects.filter(pk=1)", True),
    ("Member.objects.get(pk=1)", True),
    ("Member.objects.all()", True),
    ("Member.objects.exclude(status='left')", True),
    ("Member.objects.select_related('unit').filter(pk=1).first()", True),
    ("members.models.Member.objects.filter(pk=1)", True),
    ("Member._default_manager.filter(pk=1)", True),
    ("qs = Member.objects", True),
    ("get_object_or_404(Member, pk=1)", True),
    ("get_object_or_404(Member.objects.all(), pk=1)", True),
    ("Member.objects.restrict(request.user).filter(pk=1)", False),
    ("Member.objects.select_related('unit').restrict(user, 'change').get(pk=1)", False),
    ("get_object_or_404(Member.objects.restrict(request.user), pk=1)", False),
    ("TransferRequest.objects.incoming_for(user, 'change').filter(pk=1)", False),
    ("Member.objects.none()", False),
    ("Gender.objects.filter(pk=1)", False),  # not a scoped model
    ("member.events.all()", False),  # a related manager of an object already in scope
])
def test_the_lint_rule(code, flagged):
    src = f"def view(request):\n    {code}\n"
    assert bool(find_unscoped(src, "x.py", {"Member", "TransferRequest"}, {"objects", "_default_manager"})) is flagged


def test_views_and_api_read_scoped_models_through_restrict():
    violations = all_unscoped()
    unexpected = [v for v in violations if (v["file"], v["function"], v["chain"]) not in ALLOWED]
    assert not unexpected, "unscoped reads of scoped models (use .restrict(user, action) or add to ALLOWED with a reason):\n" + "\n".join(
        f"  {v['file']}:{v['line']} in {v['function']}(): {v['code']}" for v in unexpected)


def test_allow_list_has_no_stale_entries():
    seen = {(v["file"], v["function"], v["chain"]) for v in all_unscoped()}
    stale = [key for key in ALLOWED if key not in seen]
    assert not stale, f"remove these entries from ALLOWED, the code is gone: {stale}"
    assert all(reason.strip() for reason in ALLOWED.values())
