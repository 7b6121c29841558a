"""Members in the JSON API: list with search and filters, read, admit, update.

The endpoints call the pages' own selectors and services (members.selectors.member_search,
member_list_page, member_read_full; members.services.member_admit, member_update): scoping,
validation, the dashboard's figures and the audit log are the same whichever way a change comes.

Citizen ID, ethnicity and religion appear only in the read of one record, only for a caller who
may see them (Action.VIEW_SENSITIVE) and that read is written to the audit log; lists never
carry them, and write answers do not repeat them (``sensitive`` is false there).
"""

import datetime

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from congdoan.accounts.choices import Action
from congdoan.core import scoping
from congdoan.core.api_auth import ERRORS, WRITE_ERRORS
from congdoan.core.errors import DomainError
from congdoan.members import selectors, services
from congdoan.members.choices import AgeBand, Education, Gender, MemberStatus
from congdoan.organizations.choices import EmployerType
from congdoan.organizations.models import Unit
from congdoan.organizations.selectors import unit_get

router = Router(tags=["members"])

SENSITIVE_FIELDS = ("citizen_id", "ethnicity", "religion")
#: optional text fields: absent or null is the empty string, as on the pages
TEXT_FIELDS = ("ethnicity", "religion", "education_level", "qualification", "phone", "email", "occupation", "union_position")


class UnitRef(Schema):
    id: int
    code: str
    name: str


class ListUnitRef(UnitRef):
    employer_type: EmployerType | None

    @staticmethod
    def resolve_employer_type(obj):
        return obj.employer_type or None


class MemberListItem(Schema):
    id: int
    code: str
    full_name: str
    date_of_birth: datetime.date
    gender: Gender
    phone: str
    status: MemberStatus
    joined_on: datetime.date
    unit: ListUnitRef


class MemberPage(Schema):
    count: int = Field(description="How many members match, in all pages (at most 10,000 for a text search: see count_exact).")
    count_exact: bool = Field(description="False when a text search matched more than 10,000 members: narrow it.")
    limit: int
    offset: int
    items: list[MemberListItem]


class MemberOut(Schema):
    id: int
    code: str
    full_name: str
    date_of_birth: datetime.date
    gender: Gender
    sensitive: bool = Field(description="Whether citizen_id, ethnicity and religion are shown (else they are null).")
    citizen_id: str | None
    ethnicity: str | None
    religion: str | None
    education_level: Education | None
    qualification: str
    phone: str
    email: str
    occupation: str
    union_position: str
    joined_on: datetime.date
    status: MemberStatus
    unit: UnitRef
    created_at: datetime.datetime
    updated_at: datetime.datetime


class MemberFilters(Schema):
    q: str = Field("", description="Name (accents and case ignored), or digits: a citizen ID, phone or member code, exactly.")
    unit: int | None = Field(None, description="Only this unit's subtree (its id; 404 outside the caller's scope).")
    direct: bool = Field(False, description="With unit: only the members registered in the unit itself.")
    gender: Gender | None = None
    age_band: AgeBand | None = None
    status: MemberStatus | None = None
    employer_type: EmployerType | None = None
    admitted_year: int | None = Field(None, ge=1900, le=2999, description="Admitted (kết nạp) in this year.")
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


class MemberCreateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    unit: int = Field(description="Id of a grassroots union, sub-union or union group the caller may change.")
    code: str = Field("", max_length=20, description="Member code; empty: one is generated (DV + 10 digits).")
    full_name: str = Field(max_length=128)
    date_of_birth: datetime.date
    gender: Gender
    citizen_id: str = Field(max_length=20, description="12 digits (CCCD), consistent with gender and birth year.")
    ethnicity: str = Field("", max_length=64)
    religion: str = Field("", max_length=64)
    education_level: Education | None = None
    qualification: str = Field("", max_length=128)
    phone: str = Field("", max_length=15)
    email: str = Field("", max_length=254)
    occupation: str = Field("", max_length=128)
    union_position: str = Field("", max_length=128)
    joined_on: datetime.date


class MemberUpdateIn(Schema):
    """Only the fields sent change. The unit changes by a transfer, the status by its own
    events (pages), never here."""

    model_config = ConfigDict(extra="forbid")

    full_name: str = Field(None, max_length=128)
    date_of_birth: datetime.date = None
    gender: Gender = None
    citizen_id: str = Field(None, max_length=20)
    ethnicity: str | None = Field(None, max_length=64)
    religion: str | None = Field(None, max_length=64)
    education_level: Education | None = None
    qualification: str | None = Field(None, max_length=128)
    phone: str | None = Field(None, max_length=15)
    email: str | None = Field(None, max_length=254)
    occupation: str | None = Field(None, max_length=128)
    union_position: str | None = Field(None, max_length=128)
    joined_on: datetime.date = None


def _service_fields(data: dict) -> dict:
    data = dict(data)
    for name in TEXT_FIELDS:
        if name in data and data[name] is None:
            data[name] = ""
    return data


def member_out(member, sensitive: bool) -> dict:
    """The record as the API shows it; the sensitive fields only when ``sensitive``."""
    data = {name: getattr(member, name) for name in MemberOut.model_fields if name not in ("sensitive", "unit", *SENSITIVE_FIELDS)}
    data["education_level"] = member.education_level or None
    data["unit"] = member.unit
    data["sensitive"] = sensitive
    for name in SENSITIVE_FIELDS:
        data[name] = getattr(member, name) if sensitive else None
    return data


def member_slice(*, user, members, criteria: dict, offset: int, limit: int) -> tuple[list, int, bool]:
    """Rows ``offset``..``offset+limit`` of the member list, its count and whether the count is exact.

    selectors.member_list_page counts and orders the list for 1 M members but pages by number:
    an offset that is a multiple of the limit is one of its pages; any other offset spans two of
    them, so their rows are joined (two calls, the same cost each)."""
    number = offset // limit + 1
    page, exact = selectors.member_list_page(user=user, members=members, page_number=number, per_page=limit, **criteria)
    count = page.paginator.count
    if offset >= count:
        return [], count, exact
    skip = offset % limit
    rows = list(page.object_list)[skip:]
    if skip and number < page.paginator.num_pages:
        following, _exact = selectors.member_list_page(user=user, members=members, page_number=number + 1,
                                                       per_page=limit, **criteria)
        rows += list(following.object_list)[:skip]
    return rows, count, exact


@router.get("/", response={200: MemberPage, **ERRORS}, summary="List and search members in the caller's scope")
def member_list(request, filters: Query[MemberFilters]):
    """Members ordered by name (accent-free), with the total count; the same list as the page."""
    unit = unit_get(user=request.user, pk=filters.unit) if filters.unit else None
    criteria = {
        "q": filters.q, "unit": unit, "direct": bool(unit and filters.direct), "gender": filters.gender or "",
        "age_band": filters.age_band or "", "status": filters.status or "", "employer_type": filters.employer_type or "",
        "admitted_year": filters.admitted_year,
    }
    members = selectors.member_search(user=request.user, **criteria).only(*selectors.LIST_FIELDS)
    rows, count, exact = member_slice(user=request.user, members=members, criteria=criteria,
                                      offset=filters.offset, limit=filters.limit)
    return {"count": count, "count_exact": exact, "limit": filters.limit, "offset": filters.offset, "items": rows}


@router.get("/{int:member_id}", response={200: MemberOut, **ERRORS}, summary="Read a member's full record")
def member_read(request, member_id: int):
    """The full record. Citizen ID, ethnicity and religion are filled in only for a caller who may
    see them, and such a read is written to the audit log."""
    member, sensitive = selectors.member_read_full(user=request.user, pk=member_id)
    return member_out(member, sensitive)


@router.post("/", response={201: MemberOut, **WRITE_ERRORS}, summary="Admit a member (kết nạp)")
def member_create(request, payload: MemberCreateIn):
    data = _service_fields(payload.model_dump())
    unit = Unit.objects.restrict(request.user, Action.CHANGE).filter(pk=data.pop("unit")).first()
    if unit is None:
        raise DomainError(_("No unit with this id among the units you may change."), code="not_found", field="unit")
    member = services.member_admit(actor=request.user, unit=unit, code=data.pop("code"), **data)
    return Status(201, member_out(member, sensitive=False))


@router.patch("/{int:member_id}", response={200: MemberOut, **WRITE_ERRORS}, summary="Change a member's record")
def member_update(request, member_id: int, payload: MemberUpdateIn):
    member = selectors.member_get(user=request.user, pk=member_id, action=Action.CHANGE)
    data = _service_fields(payload.model_dump(exclude_unset=True))
    hidden = [name for name in SENSITIVE_FIELDS if name in data]
    if hidden and not scoping.can(request.user, Action.VIEW_SENSITIVE, member.unit.path):
        # the edit page leaves these fields out for such a caller; here they are refused
        raise DomainError(_("You cannot change the citizen ID, ethnicity or religion."), code="not_allowed", field=hidden[0])
    member = services.member_update(actor=request.user, member=member, **data)
    return member_out(member, sensitive=False)
