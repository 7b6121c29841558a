"""Human labels for the audit log: what an action code means, what a changed field is called.

The log stores stable codes (``member.imported``) and field names (``unit_id``); the pages show
these labels in the reader's language. Labels come from memory (this registry, the models' field
names and choices), so labelling a page costs no query per entry; only keys that are codes of
another table (``KEY_LOOKUPS``) cost one query per page. A code or field without a label is shown
as it is stored.

A new action code needs a line in ``ACTION_LABELS``: ``tests/test_labels.py`` reads the source for
every code passed to ``audit_record`` and fails on one without a label.
"""

import datetime
import functools
import re
from collections import defaultdict

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils.formats import number_format
from django.utils.functional import Promise
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from congdoan.audit.services import MASK

#: what each action code means, grouped by its prefix (the part before the dot), in page order;
#: the context keeps these apart from headings and messages with the same English words
ACTION_LABELS: dict[str, Promise] = {
    # members (congdoan/members, congdoan/imports)
    "member.admitted": pgettext_lazy("audit action", "Member admitted"),
    "member.updated": pgettext_lazy("audit action", "Member record changed"),
    "member.viewed": pgettext_lazy("audit action", "Full member record viewed"),
    "member.transfer_requested": pgettext_lazy("audit action", "Member transfer requested"),
    "member.transferred": pgettext_lazy("audit action", "Member transferred"),
    "member.transfer_rejected": pgettext_lazy("audit action", "Member transfer rejected"),
    "member.transfer_cancelled": pgettext_lazy("audit action", "Member transfer cancelled"),
    "member.suspension": pgettext_lazy("audit action", "Member suspended"),
    "member.reinstatement": pgettext_lazy("audit action", "Member reinstated"),
    "member.leaving": pgettext_lazy("audit action", "Member left the union"),
    "member.death": pgettext_lazy("audit action", "Member's death recorded"),
    "member.account_issued": pgettext_lazy("audit action", "Login account given to the member"),
    "member.imported": pgettext_lazy("audit action", "Members imported from a file"),
    "member.exported": pgettext_lazy("audit action", "Member list exported"),
    # the union tree
    "unit.created": pgettext_lazy("audit action", "Unit created"),
    "unit.updated": pgettext_lazy("audit action", "Unit changed"),
    "unit.moved": pgettext_lazy("audit action", "Unit moved in the tree"),
    "unit.dissolved": pgettext_lazy("audit action", "Unit dissolved"),
    "unit.merged": pgettext_lazy("audit action", "Unit merged into another"),
    # roles and API keys
    "role.granted": pgettext_lazy("audit action", "Role granted"),
    "role.revoked": pgettext_lazy("audit action", "Role revoked"),
    "api_token.created": pgettext_lazy("audit action", "API key created"),
    "api_token.revoked": pgettext_lazy("audit action", "API key revoked"),
    # finance
    "finance.rule_created": pgettext_lazy("audit action", "Finance rule created"),
    "finance.rule_changed": pgettext_lazy("audit action", "Finance rule changed"),
    "finance.shares_set": pgettext_lazy("audit action", "Shares between the levels set"),
    "finance.unit_dues_rate_set": pgettext_lazy("audit action", "Union's dues rate set"),
    "finance.declaration_created": pgettext_lazy("audit action", "Salary fund declared"),
    "finance.declaration_changed": pgettext_lazy("audit action", "Salary fund declaration changed"),
    "finance.declarations_imported": pgettext_lazy("audit action", "Salary fund declarations imported from a file"),
    "finance.relief_created": pgettext_lazy("audit action", "Union fee relief granted"),
    "finance.member_salary_set": pgettext_lazy("audit action", "Member's salary set"),
    "finance.member_salaries_imported": pgettext_lazy("audit action", "Members' salaries imported from a file"),
    "finance.dues_exemption_created": pgettext_lazy("audit action", "Member exempted from dues"),
    "finance.dues_exemption_ended": pgettext_lazy("audit action", "Member's dues exemption ended"),
    "finance.collection_account_set": pgettext_lazy("audit action", "Collection account set"),
    "finance.transaction_posted": pgettext_lazy("audit action", "Transaction posted to the books"),
    "finance.transaction_reversed": pgettext_lazy("audit action", "Transaction reversed"),
    "finance.receipt_reversed": pgettext_lazy("audit action", "Receipt reversed"),
    "finance.period_closed": pgettext_lazy("audit action", "Months closed in the books"),
    # finance reports and reminders
    "finance_reports.contact_saved": pgettext_lazy("audit action", "Employer contact saved"),
    "finance_reports.reminders_requested": pgettext_lazy("audit action", "Payment reminders requested"),
    "finance_reports.reminders_sent": pgettext_lazy("audit action", "Payment reminders sent"),
    "finance_reports.reminder_sent": pgettext_lazy("audit action", "Payment reminder sent to an employer"),
    "finance_reports.reminder_failed": pgettext_lazy("audit action", "Payment reminder could not be sent"),
    "finance_reports.exported": pgettext_lazy("audit action", "Finance report exported"),
    "finance_reports.schedule_saved": pgettext_lazy("audit action", "Monthly payment reminders scheduled"),
    # payments
    "payments.account_created": pgettext_lazy("audit action", "Bank account added"),
    "payments.layout_created": pgettext_lazy("audit action", "Bank statement layout created"),
    "payments.layout_changed": pgettext_lazy("audit action", "Bank statement layout changed"),
    "payments.statement_imported": pgettext_lazy("audit action", "Bank statement imported"),
    "payments.line_matched": pgettext_lazy("audit action", "Statement line matched by hand"),
    "payments.line_to_return": pgettext_lazy("audit action", "Statement line marked to send back"),
    "payments.line_requeued": pgettext_lazy("audit action", "Statement line sent back to the queue"),
    "payments.cash_receipt_created": pgettext_lazy("audit action", "Cash receipt issued"),
    # budgets and expenses
    "budget.drafted": pgettext_lazy("audit action", "Budget drafted"),
    "budget.lines_changed": pgettext_lazy("audit action", "Budget amounts changed"),
    "budget.approved": pgettext_lazy("audit action", "Budget approved"),
    "budget.superseded": pgettext_lazy("audit action", "Budget replaced by a revision"),
    "budget.revision_drafted": pgettext_lazy("audit action", "Budget revision drafted"),
    "expense.recorded": pgettext_lazy("audit action", "Expense recorded"),
    "expense.approved": pgettext_lazy("audit action", "Expense approved"),
    "expense.cancelled": pgettext_lazy("audit action", "Expense cancelled"),
    "expense.reversed": pgettext_lazy("audit action", "Expense reversed"),
    "expense.posted": pgettext_lazy("audit action", "Expense posted to the books"),
}

#: the name of each group of actions (the prefix of their codes), for the filter
ACTION_GROUPS: dict[str, Promise] = {
    "member": _("Members"),
    "unit": _("Units"),
    "role": _("Roles"),
    "api_token": _("API keys"),
    "finance": _("Finance"),
    "finance_reports": _("Finance reports"),
    "payments": _("Payments"),
    "budget": _("Budgets"),
    "expense": _("Expenses"),
}

#: keys of ``changes`` that are no field of the entry's object (import and export counts, files,
#: references), or whose field has no translated name
FIELD_LABELS: dict[str, Promise] = {
    "file": _("File"),
    "file_sha256": _("SHA-256 of the file"),
    "sha256": _("SHA-256 of the file"),
    "rows": _("Rows"),
    "lines": _("Lines read"),
    "created": _("Records created"),
    "updated": _("Records updated"),
    "unchanged": _("Records unchanged"),
    "moved": _("Moved to another unit"),
    "new": _("New lines"),
    "already_imported": _("Lines already imported"),
    "matched": _("Matched"),
    "queued": _("Sent to the queue"),
    "posted": _("Posted to the books"),
    "sent_back": _("Refused by the books, sent back to the queue"),
    "filters": _("Filters"),
    "sensitive": _("With sensitive data"),
    "unit_id": _("Unit"),
    "user_id": _("Login account"),
    "to_unit_id": _("Receiving unit"),
    "members_closed": _("Members closed"),
    "members_moved": _("Members moved"),
    "by_version": _("Replaced by version"),
    "total": _("Total (đồng)"),
    "reversal": _("Reversing entry"),
    "external_id": _("External reference"),
    "months": _("Months"),
    "shares": _("Shares"),
    "salary": _("Salary for social insurance (đồng)"),
    "valid_from": _("Valid from"),
    "payer": _("Payer"),
    "parts": _("Months and amounts"),
    "paid_on": _("Paid on"),
    "ledger_code": _("Posting refusal code"),
    "employers": _("Employers"),
    "sent": _("Sent"),
    "no_email": _("Without an e-mail address"),
    "failed": _("Failed"),
    "job": _("Reminder run"),
    "error": _("Error"),
    "report": _("Report"),
    "first_month": _("First month"),
    "last_month": _("Last month"),
    "exemption_id": _("Exemption"),
    "period": _("Period"),
    "format": _("Format"),
    "amount": _("Amount (đồng)"),
    "reason": _("Reason"),
    "status": _("Status"),
}

#: keys whose value is one value that happens to be a list, not a [before, after] pair
LIST_VALUE_KEYS = frozenset({"months", "parts"})

#: keys whose values are ids of units: shown as the unit's name, for the units the reader may see
UNIT_ID_KEYS = frozenset({"unit_id", "to_unit_id", "from_unit_id", "parent_id", "merged_into_id", "scope_unit_id"})

#: actions whose ``changes`` keys are codes of rows of another table, not field names:
#: action -> (model, field holding the code); the key is shown as ``str()`` of that row
KEY_LOOKUPS: dict[str, tuple[str, str]] = {
    "budget.lines_changed": ("budgets.category", "code"),
}

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def action_label(code: str):
    """The label of an action code; an unknown code is shown as it is."""
    return ACTION_LABELS.get(code, code)


def action_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Options of the action filter: per group, first "the whole group" (the prefix), then each action."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for code, label in ACTION_LABELS.items():
        prefix = code.split(".", 1)[0]
        if prefix not in groups:
            groups[prefix] = [(f"{prefix}.", gettext("%(group)s: all actions") % {"group": ACTION_GROUPS.get(prefix, prefix)})]
        groups[prefix].append((code, str(label)))
    return [(str(ACTION_GROUPS.get(prefix, prefix)), options) for prefix, options in groups.items()]


@functools.lru_cache(maxsize=4096)
def _model_field(object_type: str, key: str):
    """The concrete field ``key`` (name or attname) of the model ``object_type`` (``app.model``), or None."""
    try:
        model = apps.get_model(object_type)
        field = model._meta.get_field(key)
    except (LookupError, ValueError, FieldDoesNotExist):
        return None
    return field if getattr(field, "concrete", False) else None


def field_label(object_type: str, key: str):
    """The name to show for a changed field: the model field's translated verbose name, else a label
    of ``FIELD_LABELS``, else the key as stored."""
    field = _model_field(object_type, key)
    if field is not None and isinstance(field.verbose_name, Promise):
        return capfirst(field.verbose_name)
    return FIELD_LABELS.get(key, key)


def _display(value, key: str, field=None, units: dict | None = None) -> str:
    if value is None:
        return "∅"
    if units and key in UNIT_ID_KEYS and isinstance(value, int) and not isinstance(value, bool) and value in units:
        return units[value]
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(value, list):
        return ", ".join(_display(v, key, field, units) for v in value) if value else "∅"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_display(v, k)}" for k, v in value.items())
    if field is not None and field.choices and value != MASK and isinstance(value, (str, int)):
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, int) and abs(value) >= 10_000 and not key.endswith("_id"):
        return number_format(value, force_grouping=True)  # amounts in đồng: 1.595.712.000
    if isinstance(value, str) and ISO_DATE.match(value):
        try:
            return datetime.date.fromisoformat(value).strftime("%d/%m/%Y")
        except ValueError:
            pass
    return str(value)


def change_rows(entry, key_names: dict | None = None, units: dict | None = None) -> list[dict]:
    """The entry's changes as rows to show: ``label`` and either ``old``/``new`` (a [before, after]
    pair) or ``value``. Values of fields with choices show their label; masked values stay masked.
    ``key_names`` names the keys of an action of ``KEY_LOOKUPS``; ``units`` {id: name} names the ids of
    ``UNIT_ID_KEYS`` (see ``label_entries``)."""
    rows = []
    changes = entry.changes if isinstance(entry.changes, dict) else {}
    by_lookup = entry.action in KEY_LOOKUPS
    for key, value in changes.items():
        if by_lookup:
            field, label = None, (key_names or {}).get(key, key)
        else:
            field, label = _model_field(entry.object_type, key), field_label(entry.object_type, key)
        row = {"key": key, "label": label}
        if isinstance(value, list) and len(value) == 2 and key not in LIST_VALUE_KEYS:
            row.update(pair=True, old=_display(value[0], key, field, units), new=_display(value[1], key, field, units))
        else:
            row.update(pair=False, value=_display(value, key, field, units))
        rows.append(row)
    return rows


def label_entries(entries, user=None) -> list:
    """Set ``change_rows`` on each entry of a page. Names of looked-up keys (``KEY_LOOKUPS``) cost one
    query per table present on the page, whatever the number of entries; so do the names of the units
    whose ids the changes hold (``UNIT_ID_KEYS``), given ``user``: only the units he may see are named,
    the others stay an id (a unit outside his scope is not named through the log)."""
    entries = list(entries)
    wanted: dict[tuple[str, str], set] = defaultdict(set)
    unit_ids: set[int] = set()
    for entry in entries:
        if entry.action in KEY_LOOKUPS and isinstance(entry.changes, dict):
            wanted[KEY_LOOKUPS[entry.action]] |= set(entry.changes)
        elif isinstance(entry.changes, dict):
            for key, value in entry.changes.items():
                if key in UNIT_ID_KEYS:
                    unit_ids.update(v for v in (value if isinstance(value, list) else [value])
                                    if isinstance(v, int) and not isinstance(v, bool))
    names = {}
    for (model, code_field), codes in wanted.items():
        rows = apps.get_model(model)._default_manager.filter(**{f"{code_field}__in": sorted(codes)})
        names[(model, code_field)] = {getattr(row, code_field): str(row) for row in rows}
    units = {}
    if unit_ids and user is not None:
        from congdoan.accounts.choices import Action
        from congdoan.organizations.models import Unit

        units = {pk: f"{name} ({code})" for pk, name, code in
                 Unit.objects.restrict(user, Action.VIEW).filter(pk__in=sorted(unit_ids)).values_list("pk", "name", "code")}
    for entry in entries:
        entry.change_rows = change_rows(entry, names.get(KEY_LOOKUPS.get(entry.action)), units)
    return entries
