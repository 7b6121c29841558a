"""Units in the JSON API: list with filters, read, create, update.

The endpoints call the same selectors and services as the pages (organizations.selectors,
organizations.services), so scoping, validation and the audit log are the pages' own. A unit
outside the caller's scope does not exist here (404); a parent outside the units he may change
is a refused field (422).
"""

import datetime

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from congdoan.accounts.choices import Action
from congdoan.core import scoping
from congdoan.core.api_auth import ERRORS, WRITE_ERRORS
from congdoan.core.errors import DomainError
from congdoan.organizations import selectors, services
from congdoan.organizations.choices import EmployerType, Kind, Level, UnitStatus
from congdoan.organizations.models import Unit

router = Router(tags=["units"])

#: the editable text fields: an absent value is the empty string, as on the pages
TEXT_FIELDS = ("employer_name", "employer_tax_code", "address", "province")


class UnitOut(Schema):
    id: int
    code: str
    name: str
    level: Level
    kind: Kind
    parent_id: int | None = Field(None, description="The parent unit, when it lies in the caller's scope (else null).")
    depth: int
    employer_type: EmployerType | None
    employer_name: str
    employer_tax_code: str
    worker_count: int
    address: str
    province: str
    founded_on: datetime.date | None
    status: UnitStatus
    closed_on: datetime.date | None
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @staticmethod
    def resolve_parent_id(obj, context):
        # a unit's ancestors above the caller's scope are not his to see (as in the page's breadcrumb)
        if obj.parent_id is None:
            return None
        parent_path = obj.path[:-4]
        user = context["request"].user
        return obj.parent_id if scoping.can(user, Action.VIEW, parent_path) else None

    @staticmethod
    def resolve_employer_type(obj):
        return obj.employer_type or None


class UnitPage(Schema):
    count: int = Field(description="How many units match, in all pages.")
    limit: int
    offset: int
    items: list[UnitOut]


class UnitFilters(Schema):
    q: str = Field("", description="Name (accents and case ignored) or exact code.")
    level: Level | None = None
    employer_type: EmployerType | None = None
    status: UnitStatus | None = None
    within: int | None = Field(None, description="Only this unit's subtree (its id; 404 outside the caller's scope).")
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


class UnitCreateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    parent: int = Field(description="Id of the parent unit; the caller must be allowed to change it.")
    level: Level
    code: str = Field(max_length=32)
    name: str = Field(max_length=255)
    kind: Kind = Kind.GENERAL
    employer_type: EmployerType | None = Field(None, description="Grassroots unions only.")
    employer_name: str = Field("", max_length=255)
    employer_tax_code: str = Field("", max_length=14)
    worker_count: int = Field(0, ge=0)
    address: str = Field("", max_length=255)
    province: str = Field("", max_length=64)
    founded_on: datetime.date | None = None


class UnitUpdateIn(Schema):
    """Only the fields sent change. The level and the place in the tree do not change here
    (moving a branch and merging are their own operations, on the pages)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(None, max_length=32)
    name: str = Field(None, max_length=255)
    kind: Kind = None
    employer_type: EmployerType | None = None
    employer_name: str | None = Field(None, max_length=255)
    employer_tax_code: str | None = Field(None, max_length=14)
    worker_count: int = Field(None, ge=0)
    address: str | None = Field(None, max_length=255)
    province: str | None = Field(None, max_length=64)
    founded_on: datetime.date | None = None


def _service_fields(data: dict) -> dict:
    """The body's values as the services take them: empty text rather than null."""
    data = dict(data)
    for name in (*TEXT_FIELDS, "employer_type"):
        if name in data and data[name] is None:
            data[name] = ""
    return data


@router.get("/", response={200: UnitPage, **ERRORS}, summary="List units in the caller's scope")
def unit_list(request, filters: Query[UnitFilters]):
    """Units of the caller's scope, ordered by their place in the tree, with the total count."""
    within = selectors.unit_get(user=request.user, pk=filters.within) if filters.within else None
    units = selectors.unit_search(user=request.user, q=filters.q, level=filters.level or "",
                                  employer_type=filters.employer_type or "", status=filters.status or "",
                                  within=within).order_by("path")
    count = units.count()
    items = list(units[filters.offset:filters.offset + filters.limit]) if filters.offset < count else []
    return {"count": count, "limit": filters.limit, "offset": filters.offset, "items": items}


@router.get("/{int:unit_id}", response={200: UnitOut, **ERRORS}, summary="Read a unit")
def unit_read(request, unit_id: int):
    return selectors.unit_get(user=request.user, pk=unit_id)


@router.post("/", response={201: UnitOut, **WRITE_ERRORS}, summary="Create a unit")
def unit_create(request, payload: UnitCreateIn):
    """Create a unit under ``parent`` (a level allowed under it; see organizations/choices.py)."""
    data = _service_fields(payload.model_dump())
    parent = Unit.objects.restrict(request.user, Action.CHANGE).filter(pk=data.pop("parent")).first()
    if parent is None:
        raise DomainError(_("No unit with this id among the units you may change."), code="not_found", field="parent")
    unit = services.unit_create(actor=request.user, parent=parent, level=data.pop("level"), **data)
    return Status(201, unit)


@router.patch("/{int:unit_id}", response={200: UnitOut, **WRITE_ERRORS}, summary="Change a unit")
def unit_update(request, unit_id: int, payload: UnitUpdateIn):
    unit = selectors.unit_get(user=request.user, pk=unit_id, action=Action.CHANGE)
    return services.unit_update(actor=request.user, unit=unit, **_service_fields(payload.model_dump(exclude_unset=True)))
