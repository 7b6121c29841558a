from django.contrib.auth.decorators import login_required

from congdoan.accounts.choices import Action
from congdoan.audit.models import AuditEntry
from congdoan.core.views import paginate, query_without_page, render_page


@login_required
def entry_list(request):
    """Audit entries of the user's subtree, newest first; filter by object or action."""
    entries = AuditEntry.objects.restrict(request.user, Action.VIEW_AUDIT).select_related("actor")
    # a NUL byte cannot reach PostgreSQL in a text parameter: strip it from every filter
    object_type, object_id, action = (request.GET.get(k, "").replace("\x00", "") for k in ("object_type", "object_id", "action"))
    if object_type and object_id:
        entries = entries.filter(object_type=object_type, object_id=object_id)
    if action:
        entries = entries.filter(action__startswith=action)
    return render_page(request, "audit/entry_list.html",
                       {"page": paginate(request, entries), "query": query_without_page(request), "action": action},
                       partial="rows")
