from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from congdoan.accounts.choices import Action
from congdoan.core import scoping
from congdoan.core.errors import DomainError
from congdoan.core.qr import qr_svg
from congdoan.core.views import PAGE_SIZE, form_error, query_without_page, render_page
from congdoan.members import selectors, services
from congdoan.members.choices import TransferStatus
from congdoan.members.forms import MEMBER_FIELDS, AccountForm, AdmitForm, MemberFilterForm, MemberForm, StatusForm, TransferForm
from congdoan.members.models import Member, TransferRequest
from congdoan.organizations.choices import MEMBER_LEVELS
from congdoan.organizations.models import Unit

CARD_SALT = "congdoan.member-card"


@login_required
def member_list(request):
    form = MemberFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    unit = None
    if filters.get("unit"):
        unit = Unit.objects.restrict(request.user).filter(pk=filters["unit"]).first()
        if unit is None:
            raise Http404
    # the dashboard links here with these two; MemberFilterForm does not carry them (yet)
    direct = unit is not None and request.GET.get("direct") == "1"
    admitted_year = selectors.parse_year(request.GET.get("admitted_year"))
    criteria = {
        "q": filters.get("q", ""), "unit": unit, "direct": direct, "gender": filters.get("gender", ""),
        "age_band": filters.get("age_band", ""), "status": filters.get("status", ""),
        "employer_type": filters.get("employer_type", ""), "admitted_year": admitted_year,
    }
    members = selectors.member_search(user=request.user, **criteria).only(*selectors.LIST_FIELDS)
    # counted, ordered and paginated for 1 M members: see selectors.member_list_page
    page, count_exact = selectors.member_list_page(user=request.user, members=members, page_number=request.GET.get("page"),
                                                   per_page=PAGE_SIZE, **criteria)
    can_admit = Unit.objects.restrict(request.user, Action.CHANGE).exists()
    return render_page(request, "members/member_list.html", {
        "form": form, "page": page, "query": query_without_page(request),
        "unit": unit, "can_admit": can_admit, "count_exact": count_exact, "direct": direct, "admitted_year": admitted_year,
    }, partial="rows")


@login_required
def member_detail(request, pk):
    member, sensitive = selectors.member_read_full(user=request.user, pk=pk)
    events = member.events.select_related("from_unit", "to_unit", "actor")
    transfers = member.transfers.select_related("to_unit", "from_unit")
    can_change = scoping.can(request.user, Action.CHANGE, member.unit.path)
    can_finance = scoping.can(request.user, Action.FINANCE, member.unit.path)
    return render(request, "members/member_detail.html", {
        "member": member, "sensitive": sensitive, "events": events, "transfers": transfers,
        "can_change": can_change, "can_finance": can_finance, "status_form": StatusForm(initial={"on_date": timezone.localdate()}, auto_id="status_%s"),
        # the three forms share one page: distinct element ids (their field names stay the same)
        "transfer_form": TransferForm(auto_id="transfer_%s"), "account_form": AccountForm(auto_id="account_%s"),
    })


def _member_fields(form) -> dict:
    return {f: ("" if form.cleaned_data.get(f) is None and f not in ("date_of_birth", "joined_on") else form.cleaned_data.get(f))
            for f in MEMBER_FIELDS}


@login_required
def member_admit(request):
    units = Unit.objects.restrict(request.user, Action.CHANGE).active().filter(level__in=MEMBER_LEVELS).order_by("path")
    initial = {}
    unit_param = request.GET.get("unit", "")
    if unit_param.isdigit():
        initial["unit"] = units.filter(pk=int(unit_param)).first()
    form = AdmitForm(request.POST or None, units=units, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            member = services.member_admit(actor=request.user, unit=form.cleaned_data["unit"],
                                           code=form.cleaned_data.get("code") or "", **_member_fields(form))
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Member admitted."))
            return redirect("members:member_detail", member.pk)
    return render(request, "members/member_form.html", {"form": form})


@login_required
def member_edit(request, pk):
    # the edit form shows the sensitive fields: a read of the full record, audited like the detail page
    member, sensitive = selectors.member_read_full(user=request.user, pk=pk, action=Action.CHANGE)
    form = MemberForm(request.POST or None, instance=Member.objects.get(pk=member.pk))
    if not sensitive:
        for name in ("citizen_id", "ethnicity", "religion"):
            del form.fields[name]
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in _member_fields(form).items() if k in form.fields}
        try:
            services.member_update(actor=request.user, member=member, **fields)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("members:member_detail", member.pk)
    return render(request, "members/member_form.html", {"form": form, "member": member})


@login_required
@require_POST
def member_transfer(request, pk):
    member = selectors.member_get(user=request.user, pk=pk, action=Action.CHANGE)
    form = TransferForm(request.POST, auto_id="transfer_%s")
    if form.is_valid():
        try:
            services.member_transfer_request(actor=request.user, member=member, to_unit=form.cleaned_data["to_unit"],
                                             reason=form.cleaned_data["reason"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Transfer requested; it waits for the receiving unit."))
    else:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    return redirect("members:member_detail", member.pk)


@login_required
@require_POST
def member_status(request, pk):
    member = selectors.member_get(user=request.user, pk=pk, action=Action.CHANGE)
    form = StatusForm(request.POST, auto_id="status_%s")
    if form.is_valid():
        try:
            services.member_status_change(actor=request.user, member=member, kind=form.cleaned_data["kind"],
                                          reason=form.cleaned_data["reason"], on_date=form.cleaned_data["on_date"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Status changed."))
    else:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    return redirect("members:member_detail", member.pk)


@login_required
@require_POST
def member_account(request, pk):
    member = selectors.member_get(user=request.user, pk=pk, action=Action.CHANGE)
    form = AccountForm(request.POST, auto_id="account_%s")
    if form.is_valid():
        try:
            user = services.member_account_issue(actor=request.user, member=member, password=form.cleaned_data["password"])
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Account created: the member logs in with the username %(username)s.") % {"username": user.username})
    else:
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
    return redirect("members:member_detail", member.pk)


@login_required
def transfer_list(request):
    """Transfers waiting for one of the user's units to accept, and those his units sent."""
    incoming = (TransferRequest.objects.incoming_for(request.user, Action.CHANGE).filter(status=TransferStatus.PENDING)
                .select_related("member", "from_unit", "to_unit"))
    outgoing = (TransferRequest.objects.restrict(request.user).select_related("member", "from_unit", "to_unit")[:50])
    return render(request, "members/transfer_list.html", {"incoming": incoming, "outgoing": outgoing})


@login_required
@require_POST
def transfer_decide(request, pk, decision):
    if decision == "cancel":
        transfer = get_object_or_404(TransferRequest.objects.restrict(request.user, Action.CHANGE), pk=pk)
    else:
        transfer = get_object_or_404(TransferRequest.objects.incoming_for(request.user, Action.CHANGE), pk=pk)
    service = {"accept": services.member_transfer_accept, "reject": services.member_transfer_reject,
               "cancel": services.member_transfer_cancel}.get(decision)
    if service is None:
        raise Http404
    try:
        service(actor=request.user, transfer=transfer)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Transfer updated."))
    return redirect("members:transfer_list")


def _own_member(request) -> Member:
    member = Member.objects.select_related("unit").filter(user=request.user).first()
    if member is None:
        raise Http404
    return member


@login_required
def me(request):
    member = _own_member(request)
    return render(request, "members/me.html", {
        "member": member, "events": member.events.select_related("from_unit", "to_unit"),
    })


def card_token(member: Member) -> str:
    return signing.dumps({"c": member.code}, salt=CARD_SALT, compress=True)


@login_required
def me_card(request):
    member = _own_member(request)
    url = request.build_absolute_uri(reverse("members:card_verify", args=[card_token(member)]))
    return render(request, "members/card.html", {"member": member, "qr": qr_svg(url), "verify_url": url})


def card_verify(request, token):
    """Public page the card's QR opens: is this a real, current member card?"""
    try:
        code = signing.loads(token, salt=CARD_SALT)["c"]
    except (signing.BadSignature, KeyError, TypeError):
        return render(request, "members/card_verify.html", {"valid": False}, status=404)
    member = Member.objects.select_related("unit").filter(code=code).first()
    if member is None:
        return render(request, "members/card_verify.html", {"valid": False}, status=404)
    return render(request, "members/card_verify.html", {"valid": True, "member": member})
