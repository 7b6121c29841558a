from django.contrib.auth.decorators import login_required

from congdoan.accounts.choices import Action
from congdoan.audit.labels import ACTION_LABELS, action_choices, label_entries
from congdoan.audit.models import AuditEntry
from congdoan.core.views import paginate, query_without_page, render_page


@login_required
def entry_list(request):
    """Audit entries of the user's subtree, newest first; filter by object or action.

    ``action`` is one action code (exact) or a prefix such as ``member.`` (every action of a group).
    """
    entries = AuditEntry.objects.restrict(request.user, Action.VIEW_AUDIT).select_related("actor")
    # a NUL byte cannot reach PostgreSQL in a text parameter: strip it from every filter
    object_type, object_id, action = (request.GET.get(k, "").replace("\x00", "") for k in ("object_type", "object_id", "action"))
    if object_type and object_id:
        entries = entries.filter(object_type=object_type, object_id=object_id)
    if action in ACTION_LABELS:
        entries = entries.filter(action=action)
    elif action:
        entries = entries.filter(action__startswith=action)
    page = paginate(request, entries)
    page.object_list = label_entries(page.object_list, request.user)  # sets entry.change_rows
    choices = action_choices()
    known = {value for _group, options in choices for value, _label in options}
    return render_page(request, "audit/entry_list.html", {
        "page": page, "query": query_without_page(request), "action": action,
        "action_choices": choices, "action_unlisted": action if action and action not in known else "",
        "object_type": object_type if object_id else "", "object_id": object_id if object_type else "",
    }, partial="rows")
