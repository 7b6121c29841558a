from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    NATIONAL = "national", _("National federation")
    PROVINCE = "province", _("Province federation / central sector union")
    UPPER_GRASSROOTS = "upper_grassroots", _("Upper-grassroots union")
    GRASSROOTS = "grassroots", _("Grassroots union")
    SUB_UNION = "sub_union", _("Sub-union")
    UNION_GROUP = "union_group", _("Union group")


#: depth in the tree of each level (the national federation is the root, depth 1)
LEVEL_ORDER = [Level.NATIONAL, Level.PROVINCE, Level.UPPER_GRASSROOTS, Level.GRASSROOTS, Level.SUB_UNION, Level.UNION_GROUP]
LEVEL_RANK = {level: i for i, level in enumerate(LEVEL_ORDER)}

#: which levels may sit directly under which
ALLOWED_CHILDREN = {
    Level.NATIONAL: {Level.PROVINCE},
    # a province federation may hold grassroots unions directly (large enterprises)
    Level.PROVINCE: {Level.UPPER_GRASSROOTS, Level.GRASSROOTS},
    Level.UPPER_GRASSROOTS: {Level.GRASSROOTS},
    Level.GRASSROOTS: {Level.SUB_UNION, Level.UNION_GROUP},
    Level.SUB_UNION: {Level.UNION_GROUP},
    Level.UNION_GROUP: set(),
}

#: levels at which members are registered
MEMBER_LEVELS = {Level.GRASSROOTS, Level.SUB_UNION, Level.UNION_GROUP}


class Kind(models.TextChoices):
    """Finer kind inside a level (e.g. a central sector union sits at province level)."""

    GENERAL = "general", _("General")
    CENTRAL_SECTOR = "central_sector", _("Central sector union")
    DISTRICT = "district", _("District federation")
    LOCAL_SECTOR = "local_sector", _("Local sector union")
    INDUSTRIAL_ZONE = "industrial_zone", _("Industrial-zone union")


class EmployerType(models.TextChoices):
    STATE_AGENCY = "state_agency", _("State agency")
    ARMED_FORCES = "armed_forces", _("Armed forces unit")
    PUBLIC_SERVICE = "public_service", _("Public service unit")
    STATE_ENTERPRISE = "state_enterprise", _("State enterprise")
    FDI = "fdi", _("Foreign-invested enterprise (FDI)")
    DOMESTIC_PRIVATE = "domestic_private", _("Domestic private enterprise")
    COOPERATIVE = "cooperative", _("Cooperative")
    OTHER = "other", _("Other")


class UnitStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DISSOLVED = "dissolved", _("Dissolved")
    MERGED = "merged", _("Merged")
