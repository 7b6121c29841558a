from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from congdoan.core import scoping
from congdoan.dashboard.selectors import dashboard_get
from congdoan.organizations.selectors import unit_get


@login_required
def home(request):
    """The leaders' dashboard for the user's scope; ``?unit=<id>`` narrows it to one unit (404 outside)."""
    if not scoping.is_official(request.user):
        if hasattr(request.user, "member"):
            return redirect("members:me")
        return render(request, "dashboard/no_role.html")
    unit_id = request.GET.get("unit", "")
    # a malformed value shows the whole scope; an id outside it answers 404
    unit = unit_get(user=request.user, pk=int(unit_id)) if unit_id.isdigit() and len(unit_id) < 16 else None
    dashboard = dashboard_get(user=request.user, unit=unit)
    return render(request, "dashboard/home.html", {"dashboard": dashboard, "summary": dashboard.summary})
