"""Finance pages: thin; the rules are in services, the reads in selectors (all restricted to the
user's FINANCE scope: anything outside it is a 404)."""

import datetime
from collections import defaultdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from congdoan.accounts.choices import Action
from congdoan.core.errors import DomainError
from congdoan.core.qr import qr_svg
from congdoan.core.text import normalize_search
from congdoan.core.views import form_error, paginate, query_without_page, render_page
from congdoan.finance import importing, member_selectors, selectors, services
from congdoan.finance.choices import SHARE_KINDS, SHARE_LEVELS, VALUE_UNIT, RuleKind, TransactionKind, ValueUnit
from congdoan.finance.forms import (
    AsOfForm, CloseForm, CollectionAccountForm, DeclarationFilterForm, DeclarationForm, DeclarationImportForm, DuesExemptionEndForm,
    DuesExemptionForm, MemberDuesFilterForm, MemberSalaryForm, MonthForm, ReceiptReverseForm, ReliefForm, ReverseForm, RuleForm,
    SalaryImportForm, SharesForm, YearForm,
)
from congdoan.finance.models import CollectionAccount, DuesExemption, Rule
from congdoan.finance.money import add_months, month_start
from congdoan.finance.references import payment_reference_for
from congdoan.finance.rules import RuleBook
from congdoan.finance.vietqr import VietQRError, build_payload
from congdoan.organizations.choices import Level


def _finance_only(request):
    if not selectors.has_finance(request.user):
        raise Http404


def _employers(request):
    """The active grassroots unions whose books the user keeps: the choices of employer fields."""
    return selectors.finance_units(request.user).filter(level=Level.GRASSROOTS, status="active").order_by("path")


# -- overview -------------------------------------------------------------------------------------------------
@login_required
def home(request):
    """The units whose books the user keeps, with links to their journal, balances and closed months."""
    _finance_only(request)
    units = selectors.finance_units(request.user).order_by("path")
    q = request.GET.get("q", "").strip()[:100]
    if q:
        units = units.filter(name_normalized__contains=normalize_search(q)) | units.filter(code__iexact=q)
    return render_page(request, "finance/home.html", {"page": paginate(request, units), "query": query_without_page(request)},
                       partial="results")


# -- rules --------------------------------------------------------------------------------------------------------
def _rule_rows(today: datetime.date):
    """Per rule key: the version in force today, the next one if any, and the history."""
    grouped = defaultdict(list)
    for rule in Rule.objects.order_by("kind", "level", "employer_type", "valid_from"):
        grouped[(rule.kind, rule.level, rule.employer_type)].append(rule)
    order = {k: i for i, k in enumerate(RuleKind.values)}
    level_order = {lvl: i for i, lvl in enumerate(SHARE_LEVELS)}
    rows = []
    for key in sorted(grouped, key=lambda k: (order.get(k[0], 99), level_order.get(k[1], 0), k[2])):
        versions = grouped[key]
        current = next((r for r in reversed(versions) if r.valid_from <= today), None)
        upcoming = [r for r in versions if r.valid_from > today]
        rows.append({"current": current, "upcoming": upcoming, "history": [r for r in versions if r is not current and r not in upcoming],
                     "unit": VALUE_UNIT[key[0]], "any": versions[-1]})
    return rows


@login_required
def rule_list(request):
    """The rules in force with their legal basis and history; national finance officials add versions."""
    _finance_only(request)
    editable = services.may_edit_rules(request.user)
    rule_form = RuleForm(prefix="rule")
    shares_form = SharesForm(prefix="shares")
    if request.method == "POST":
        if not editable:
            raise Http404
        action = request.POST.get("action")
        try:
            if action == "shares":
                shares_form = SharesForm(request.POST, prefix="shares")
                if shares_form.is_valid():
                    data = shares_form.cleaned_data
                    services.shares_set(actor=request.user, kind=data["kind"], valid_from=data["valid_from"],
                                        shares=shares_form.shares(), legal_basis=data["legal_basis"])
                    messages.success(request, _("The shares are saved."))
                    return redirect("finance:rule_list")
            else:
                rule_form = RuleForm(request.POST, prefix="rule")
                if rule_form.is_valid():
                    data = rule_form.cleaned_data
                    services.rule_create(actor=request.user, kind=data["kind"], value=data["value"], valid_from=data["valid_from"],
                                         legal_basis=data["legal_basis"], employer_type=data["employer_type"], note=data["note"])
                    messages.success(request, _("The rule is saved."))
                    return redirect("finance:rule_list")
        except DomainError as exc:
            form_error(shares_form if action == "shares" else rule_form, exc)
    today = timezone.localdate()
    book = RuleBook()
    return render_page(request, "finance/rule_list.html", {
        "rows": _rule_rows(today), "editable": editable, "rule_form": rule_form, "shares_form": shares_form, "today": today,
        "shares_now": [(kind, RuleKind(kind).label, book.shares("union_fee" if kind == RuleKind.UNION_FEE_SHARE else "dues", today))
                       for kind in SHARE_KINDS],
        "levels": [(level, Level(level).label) for level in SHARE_LEVELS], "bp": ValueUnit.BASIS_POINTS, "dong": ValueUnit.DONG,
    })


# -- declarations ------------------------------------------------------------------------------------------------
@login_required
def declaration_list(request):
    """Salary fund declarations of the user's employers, with the form to enter one."""
    _finance_only(request)
    employers = _employers(request)
    form = DeclarationForm(request.POST or None, units=employers, initial={"month": add_months(month_start(timezone.localdate()), -1)
                                                                           .strftime("%m/%Y")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.declaration_save(actor=request.user, unit=data["unit"], month=data["month"], si_salary_fund=data["si_salary_fund"],
                                      workers=data["workers"])
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("The declaration is saved."))
            return redirect(reverse("finance:declaration_list") + f"?month={data['month']:%m/%Y}")
    filters = DeclarationFilterForm(request.GET or None)
    cleaned = filters.cleaned_data if filters.is_valid() else {}
    rows = selectors.declarations_of(request.user, month=cleaned.get("month"))
    if cleaned.get("q"):
        needle = normalize_search(cleaned["q"])
        rows = rows.filter(unit__name_normalized__contains=needle) | rows.filter(unit__code__iexact=cleaned["q"].strip())
    page = paginate(request, rows)
    rates = RuleBook()
    for declaration in page:
        rate = rates.union_fee_rate(declaration.month)
        declaration.rate_bp = rate
    owed = {(u, m): a for u, m, a in selectors.union_fee_owed(unit_ids={d.unit_id for d in page}, start=min(
        [d.month for d in page], default=timezone.localdate()), end=max([d.month for d in page], default=timezone.localdate()))}
    for declaration in page:
        declaration.owed = owed.get((declaration.unit_id, declaration.month))
    return render_page(request, "finance/declaration_list.html", {
        "form": form, "filters": filters, "page": page, "query": query_without_page(request),
    }, partial="results", status=422 if request.method == "POST" else 200)


@login_required
def declaration_import(request):
    """Upload a workbook of declarations: all rows are written, or none and every error is listed."""
    _finance_only(request)
    form = DeclarationImportForm(request.POST or None, request.FILES or None)
    errors, total, result = [], 0, None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            rows, digest = importing.read_declarations(actor=request.user, data=upload.read(), name=upload.name)
            result = services.declarations_import(actor=request.user, rows=rows, file_name=upload.name, file_sha256=digest)
        except importing.SheetImportError as exc:
            form_error(form, exc)
            errors, total = exc.errors, exc.total
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("%(created)s declarations added, %(updated)s corrected.") % result)
            return redirect("finance:declaration_list")
    return render_page(request, "finance/declaration_import.html", {"form": form, "errors": errors, "total": total},
                       status=422 if form.errors else 200)


# -- payment notice ---------------------------------------------------------------------------------------------
@login_required
def notice(request, employer):
    """The payment notice of an employer's month: what it owes and a VietQR code to pay it by scanning."""
    employer = selectors.employer_in_scope(request.user, employer)
    form = MonthForm(request.GET or None)
    month = (form.cleaned_data.get("month") if form.is_valid() else None) or add_months(month_start(timezone.localdate()), -1)
    facts = selectors.notice_for(employer, month)
    amount = facts["unpaid"] + facts["earlier_unpaid"]
    qr, payload = "", ""
    account = facts["account"]
    if account and amount > 0:
        try:
            payload = build_payload(bank_bin=account.bank_bin, account_number=account.account_number, amount=amount,
                                    purpose=f"{facts['reference']} T{month:%m/%Y}")
            qr = qr_svg(payload, scale=5)
        except VietQRError:
            payload = ""
    return render_page(request, "finance/notice.html", {
        "employer": employer, "form": form, "f": facts, "amount": amount, "qr": qr, "payload": payload,
        "previous": add_months(month, -1), "next": add_months(month, 1),
    })


# -- the ledger of a unit ----------------------------------------------------------------------------------------
@login_required
def journal(request, unit):
    """The unit's ledger entries, newest first; a transaction can be reversed from here."""
    unit = selectors.unit_in_scope(request.user, unit)
    reverse_form = ReverseForm()
    if request.method == "POST":
        reverse_form = ReverseForm(request.POST)
        if reverse_form.is_valid():
            data = reverse_form.cleaned_data
            try:
                txn = selectors.transaction_in_scope(request.user, data["transaction"], unit)
                reversal = services.transaction_reverse(actor=request.user, transaction=txn, date=data["date"], memo=data["memo"])
            except DomainError as exc:
                messages.error(request, str(exc.message))
            else:
                messages.success(request, _("Transaction #%(id)s is reversed by #%(rev)s.") % {"id": txn.pk, "rev": reversal.pk})
            return redirect("finance:journal", unit=unit.pk)
    page = paginate(request, selectors.journal(request.user, unit))
    reversed_ids = selectors.reversed_transactions({e.transaction_id for e in page})
    return render_page(request, "finance/journal.html", {
        "unit": unit, "page": page, "reversed": reversed_ids, "query": query_without_page(request),
        "reversal": TransactionKind.REVERSAL, "summary": TransactionKind.RECEIPTS, "today": timezone.localdate(),
    }, partial="results")


@login_required
def transaction_receipts(request, unit, transaction):
    """The receipts of a statement's summary transaction (those of the unit's unions); each can be reversed on its own."""
    unit = selectors.unit_in_scope(request.user, unit)
    txn = selectors.transaction_in_scope(request.user, transaction, unit)
    receipts = selectors.receipts_of_transaction(request.user, txn, unit)
    if request.method == "POST":
        form = ReceiptReverseForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            receipt = receipts.filter(pk=data["receipt"]).first()
            if receipt is None:
                raise Http404
            try:
                reversal = services.receipt_reverse(actor=request.user, receipt=receipt, date=data["date"], memo=data["memo"])
            except DomainError as exc:
                messages.error(request, str(exc.message))
            else:
                messages.success(request, _("Receipt %(id)s is reversed by #%(rev)s.") % {"id": receipt.external_id, "rev": reversal.pk})
        else:  # a date that is no date: said, nothing posted
            messages.error(request, " ".join(str(error) for errors in form.errors.values() for error in errors))
        return redirect("finance:transaction_receipts", unit=unit.pk, transaction=txn.pk)
    page = paginate(request, receipts)
    reversed_ids = selectors.reversed_receipts(request.user, [r.pk for r in page])
    return render_page(request, "finance/transaction_receipts.html", {
        "unit": unit, "txn": txn, "page": page, "reversed": reversed_ids, "query": query_without_page(request),
    }, partial="results")


@login_required
def balances(request, unit):
    """Every account of the unit with its balance at a date (a trial balance)."""
    unit = selectors.unit_in_scope(request.user, unit)
    form = AsOfForm(request.GET or None)
    on = (form.cleaned_data.get("on") if form.is_valid() else None) or timezone.localdate()
    rows = selectors.unit_balances(unit, on)
    return render_page(request, "finance/balances.html", {
        "unit": unit, "form": form, "on": on, "rows": rows,
        "totals": {"debit": sum(r["debit"] for r in rows), "credit": sum(r["credit"] for r in rows)},
    })


@login_required
def periods(request, unit):
    """The unit's closed months, and closing the next ones."""
    unit = selectors.unit_in_scope(request.user, unit)
    today = timezone.localdate()
    form = CloseForm(request.POST or None, months=selectors.open_months(unit, today))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                closed = services.period_close(actor=request.user, unit=unit, month=datetime.date.fromisoformat(form.cleaned_data["month"]))
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, _("Closed: %(months)s.") % {"months": ", ".join(p.month.strftime("%m/%Y") for p in closed)})
                return redirect("finance:periods", unit=unit.pk)
        status = 422
    return render_page(request, "finance/periods.html", {
        "unit": unit, "form": form, "periods": selectors.periods_of(unit), "last": selectors.last_closed_month(unit.pk),
    }, status=status)


# -- set-up: collection accounts and reliefs -------------------------------------------------------------------------
@login_required
def collection_accounts(request):
    """The bank accounts printed on payment notices (the nearest one up the tree is used)."""
    _finance_only(request)
    units = selectors.finance_units(request.user).filter(status="active").order_by("path")
    form = CollectionAccountForm(request.POST or None, units=units)
    if request.method == "POST" and form.is_valid():
        try:
            services.collection_account_set(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("The account is saved."))
            return redirect("finance:collection_accounts")
    accounts = CollectionAccount.objects.restrict(request.user, Action.FINANCE).select_related("unit").order_by("unit__path")
    return render_page(request, "finance/collection_accounts.html", {"form": form, "page": paginate(request, accounts)},
                       status=422 if form.errors else 200)


@login_required
def relief_list(request):
    """Exemptions, reductions and suspensions of the union fee decided by the user's level."""
    _finance_only(request)
    form = ReliefForm(request.POST or None, units=_employers(request))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.fee_relief_create(actor=request.user, unit=data["unit"], kind=data["kind"], first_month=data["first_month"],
                                       last_month=data["last_month"], reduction_bp=data["reduction"] or 0, decision=data["decision"])
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("The decision is recorded."))
            return redirect("finance:relief_list")
    return render_page(request, "finance/relief_list.html", {
        "form": form, "page": paginate(request, selectors.reliefs_of(request.user)), "query": query_without_page(request),
    }, status=422 if form.errors else 200)


# -- members' dues --------------------------------------------------------------------------------------------------
def _year(request) -> int:
    form = YearForm(request.GET or None)
    return (form.cleaned_data.get("year") if form.is_valid() else None) or timezone.localdate().year


@login_required
def member_list(request):
    """Members whose dues the user keeps, with the salary in force and the dues of this month."""
    _finance_only(request)
    form = MemberDuesFilterForm(request.GET or None)
    cleaned = form.cleaned_data if form.is_valid() else {}
    unit = member_selectors.unit_for_members(request.user, cleaned["unit"]) if cleaned.get("unit") else None
    page = paginate(request, member_selectors.members_in_scope(request.user, unit=unit, q=cleaned.get("q", "")))
    month = member_selectors.this_month()
    member_selectors.dues_this_month(page.object_list, month)
    return render_page(request, "finance/member_list.html", {
        "form": form, "unit": unit, "page": page, "month": month, "query": query_without_page(request),
    }, partial="results")


@login_required
def member_dues(request, member):
    """One member's dues: his salary (from a month on), his exemptions, and each month's dues with how
    it was computed and what he paid. The forms record a salary or an exemption; each exemption still
    running has its own form to end it (``dues_exemption_end``)."""
    member = member_selectors.member_in_scope(request.user, member)
    salary_form = MemberSalaryForm(prefix="salary")
    exemption_form = DuesExemptionForm(prefix="exemption")
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "salary":
            salary_form = MemberSalaryForm(request.POST, prefix="salary")
            if salary_form.is_valid():
                data = salary_form.cleaned_data
                try:
                    services.member_salary_set(actor=request.user, member=member, valid_from=data["valid_from"], salary=data["salary"])
                except DomainError as exc:
                    form_error(salary_form, exc)
                else:
                    messages.success(request, _("The salary is saved."))
                    return redirect("finance:member_dues", member=member.pk)
        elif action == "exemption":
            exemption_form = DuesExemptionForm(request.POST, prefix="exemption")
            if exemption_form.is_valid():
                data = exemption_form.cleaned_data
                try:
                    services.dues_exemption_create(actor=request.user, member=member, first_month=data["first_month"],
                                                   last_month=data["last_month"], reason=data["reason"])
                except DomainError as exc:
                    form_error(exemption_form, exc)
                else:
                    messages.success(request, _("The exemption is saved."))
                    return redirect("finance:member_dues", member=member.pk)
        status = 422
    return _member_dues_page(request, member, salary_form=salary_form, exemption_form=exemption_form, status=status)


def _member_dues_page(request, member, *, salary_form=None, exemption_form=None, ending=None, status=200):
    """The member's dues page. Each exemption open-ended or ending after this month carries ``end_form``;
    ``ending`` is (exemption id, its bound form) when ending that one was refused: it is shown open, with
    its errors, whatever the exemption's months."""
    year = _year(request)
    salaries = member_selectors.salary_history(member)
    exemptions = member_selectors.exemption_history(member)
    month = member_selectors.this_month()
    for exemption in exemptions:
        if ending and ending[0] == exemption.pk:
            exemption.end_form = ending[1]
        elif exemption.last_month is None or exemption.last_month > month:
            exemption.end_form = DuesExemptionEndForm(prefix=f"end-{exemption.pk}")
    statement = member_selectors.dues_statement(member, year=year, salaries=salaries, exemptions=exemptions)
    return render_page(request, "finance/member_dues.html", {
        "member": member, "salaries": salaries, "exemptions": exemptions, "s": statement, "year": year,
        "years": _years(member), "salary_form": salary_form or MemberSalaryForm(prefix="salary"),
        "exemption_form": exemption_form or DuesExemptionForm(prefix="exemption"),
        "reference": payment_reference_for(kind="member", payer_id=member.pk),
    }, status=status)


@login_required
@require_POST
def dues_exemption_end(request, exemption):
    """End an exemption earlier, from its form on the member's dues page: back to that page with a
    message, or the page again with the error on the form's field. POST only (GET is 405 for any id)."""
    exemption = DuesExemption.objects.restrict(request.user, Action.FINANCE).filter(pk=exemption).first()
    if exemption is None:
        raise Http404
    member = member_selectors.member_in_scope(request.user, exemption.member_id)
    form = DuesExemptionEndForm(request.POST, prefix=f"end-{exemption.pk}")
    if form.is_valid():
        data = form.cleaned_data
        try:
            ended = services.dues_exemption_end(actor=request.user, exemption=exemption, last_month=data["last_month"],
                                                reason=data["reason"])
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("The exemption now ends in %(last)s: the member owes dues again from %(next)s.") % {
                "last": ended.last_month.strftime("%m/%Y"), "next": add_months(ended.last_month, 1).strftime("%m/%Y")})
            return redirect(reverse("finance:member_dues", kwargs={"member": member.pk}) + f"#exemption-{ended.pk}")
    return _member_dues_page(request, member, ending=(exemption.pk, form), status=422)


def _years(member) -> range:
    """The years of a member's dues account, newest first."""
    today = timezone.localdate()
    return range(today.year, max(member.joined_on.year, today.year - 20) - 1, -1)


@login_required
def salary_import(request):
    """Upload a workbook of members' salaries: all rows are written, or none and every error is listed."""
    _finance_only(request)
    form = SalaryImportForm(request.POST or None, request.FILES or None)
    errors, total = [], 0
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            rows, digest = importing.read_salaries(actor=request.user, data=upload.read(), name=upload.name)
            result = importing.member_salaries_import(actor=request.user, rows=rows, file_name=upload.name, file_sha256=digest)
        except importing.SheetImportError as exc:
            form_error(form, exc)
            errors, total = exc.errors, exc.total
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, _("%(created)s salaries added, %(updated)s corrected, %(unchanged)s unchanged.") % result)
            return redirect("finance:member_list")
    return render_page(request, "finance/salary_import.html", {"form": form, "errors": errors, "total": total},
                       status=422 if form.errors else 200)


# -- the member's own dues -----------------------------------------------------------------------------------------
@login_required
def my_dues(request):
    """The logged-in member's dues month by month (owed, paid, balance), his payments and receipts,
    his payment reference and a VietQR code that pays what is due up to this month."""
    member = member_selectors.own_member(request.user)
    year = _year(request)
    statement = member_selectors.dues_statement(member, year=year)
    reference = payment_reference_for(kind="member", payer_id=member.pk)
    account = selectors.collection_account_for(member.unit)
    qr, payload = "", ""
    if account and statement["to_pay"] > 0:
        try:
            payload = build_payload(bank_bin=account.bank_bin, account_number=account.account_number, amount=statement["to_pay"],
                                    purpose=f"{reference} T{statement['month']:%m/%Y}")
            qr = qr_svg(payload, scale=5)
        except VietQRError:
            payload = ""
    return render_page(request, "finance/my_dues.html", {
        "member": member, "s": statement, "year": year, "years": _years(member), "reference": reference, "account": account,
        "qr": qr, "payload": payload, "payments": member_selectors.payments_of(member, year=year),
    })


@login_required
def my_receipt_pdf(request, receipt):
    """A cash receipt as PDF: for the member whose dues it paid (his parts only), or the unit's finance officials."""
    receipt, allocations = member_selectors.receipt_in_reach(request.user, receipt)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    from congdoan.payments.pdf import cash_receipt_pdf

    response = HttpResponse(cash_receipt_pdf(receipt, allocations), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{receipt.number}.pdf"'
    return response
