from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from congdoan.core import scoping
from congdoan.dashboard.selectors import scope_summary


@login_required
def home(request):
    if not scoping.is_official(request.user):
        if hasattr(request.user, "member"):
            return redirect("members:me")
        return render(request, "dashboard/no_role.html")
    return render(request, "dashboard/home.html", {"summary": scope_summary(request.user)})
