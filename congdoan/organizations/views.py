from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from congdoan.accounts.choices import Action
from congdoan.core import scoping
from congdoan.core.errors import DomainError
from congdoan.core.views import form_error, paginate, query_without_page, render_page
from congdoan.organizations import selectors, services
from congdoan.organizations.choices import ALLOWED_CHILDREN
from congdoan.organizations.forms import UNIT_FIELDS, DissolveForm, UnitFilterForm, UnitForm, UnitPickForm
from congdoan.organizations.models import Unit


def _unit_data(form) -> dict:
    """The form's values as the service takes them (empty text rather than None)."""
    data = {f: form.cleaned_data.get(f) for f in UNIT_FIELDS}
    data = {k: ("" if v is None and k != "founded_on" else v) for k, v in data.items()}
    data["worker_count"] = data["worker_count"] or 0
    return data


@login_required
def unit_list(request):
    """Search units of the user's scope; without a search, show the top of his scope."""
    form = UnitFilterForm(request.GET or None)
    filters = dict(form.cleaned_data) if form.is_valid() else {}
    unit_pk = filters.pop("unit", None)
    within = selectors.unit_get(user=request.user, pk=unit_pk) if unit_pk else None  # 404 outside scope
    if any(filters.values()) or within is not None:
        units = selectors.unit_search(user=request.user, within=within, **filters).select_related("parent")
    else:
        units = selectors.scope_roots(request.user).select_related("parent")
    return render_page(request, "organizations/unit_list.html",
                       {"form": form, "page": paginate(request, units), "query": query_without_page(request)},
                       partial="rows")


@login_required
def unit_detail(request, pk):
    unit = selectors.unit_get(user=request.user, pk=pk)
    children, direct_members = selectors.children_with_counts(unit)
    visible_roots = scoping.granted_paths(request.user, Action.VIEW)
    ancestors = [a for a in Unit.objects.ancestors_of(unit) if any(a.path.startswith(p) for p in visible_roots)]
    can_change = scoping.can(request.user, Action.CHANGE, unit.path)
    return render(request, "organizations/unit_detail.html", {
        "unit": unit, "children": children, "direct_members": direct_members, "ancestors": ancestors,
        "can_change": can_change, "can_add_child": can_change and unit.is_active and bool(ALLOWED_CHILDREN[unit.level]),
        "today": timezone.localdate(),
    })


@login_required
def unit_create(request, parent_pk):
    parent = selectors.unit_get(user=request.user, pk=parent_pk, action=Action.CHANGE)
    levels = sorted(ALLOWED_CHILDREN[parent.level], key=lambda lvl: list(ALLOWED_CHILDREN).index(lvl))
    form = UnitForm(request.POST or None, allowed_levels=levels)
    if request.method == "POST" and form.is_valid():
        data = _unit_data(form)
        try:
            unit = services.unit_create(actor=request.user, parent=parent, level=form.cleaned_data["level"], **data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Unit created."))
            return redirect("organizations:unit_detail", unit.pk)
    return render(request, "organizations/unit_form.html", {"form": form, "parent": parent})


@login_required
def unit_edit(request, pk):
    unit = selectors.unit_get(user=request.user, pk=pk, action=Action.CHANGE)
    form = UnitForm(request.POST or None, instance=Unit.objects.get(pk=unit.pk))
    if request.method == "POST" and form.is_valid():
        data = _unit_data(form)
        try:
            services.unit_update(actor=request.user, unit=unit, **data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("organizations:unit_detail", unit.pk)
    return render(request, "organizations/unit_form.html", {"form": form, "unit": unit})


def _pick(request, unit, *, service, label, units, template_title, success):
    form = UnitPickForm(request.POST or None, units=units, label=label)
    if request.method == "POST" and form.is_valid():
        try:
            service(form.cleaned_data["target"])
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, success)
            return redirect("organizations:unit_detail", unit.pk)
    return render(request, "organizations/unit_action.html", {"form": form, "unit": unit, "title": template_title})


@login_required
def unit_move(request, pk):
    unit = selectors.unit_get(user=request.user, pk=pk, action=Action.CHANGE)
    targets = (Unit.objects.restrict(request.user, Action.CHANGE).active()
               .filter(level__in=[lvl for lvl, kids in ALLOWED_CHILDREN.items() if unit.level in kids])
               .exclude(pk=unit.parent_id).order_by("path"))
    return _pick(request, unit, units=targets, label=_("New parent unit"), template_title=_("Move unit"),
                 success=_("Unit moved with its whole branch."),
                 service=lambda target: services.unit_move(actor=request.user, unit=unit, new_parent=target))


@login_required
def unit_merge(request, pk):
    unit = selectors.unit_get(user=request.user, pk=pk, action=Action.CHANGE)
    targets = (Unit.objects.restrict(request.user, Action.CHANGE).active().filter(level=unit.level)
               .exclude(pk=unit.pk).order_by("path"))
    return _pick(request, unit, units=targets, label=_("Merge into"), template_title=_("Merge unit"),
                 success=_("Unit merged: its members and sub-units moved."),
                 service=lambda target: services.unit_merge(actor=request.user, unit=unit, into=target))


@login_required
def unit_dissolve(request, pk):
    unit = selectors.unit_get(user=request.user, pk=pk, action=Action.CHANGE)
    form = DissolveForm(request.POST or None, initial={"on_date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            services.unit_dissolve(actor=request.user, unit=unit, on_date=form.cleaned_data["on_date"],
                                   reason=form.cleaned_data["reason"])
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Unit dissolved."))
            return redirect("organizations:unit_detail", unit.pk)
    return render(request, "organizations/unit_action.html", {"form": form, "unit": unit, "title": _("Dissolve unit"), "danger": True})
