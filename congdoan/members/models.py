from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from congdoan.core.scoping import ScopedQuerySet
from congdoan.members.choices import Education, EventKind, Gender, MemberStatus, TransferStatus


class MemberQuerySet(ScopedQuerySet):
    scope_field = "unit__path"


class Member(models.Model):
    """A union member (đoàn viên): his record, current unit and status.

    ``name_normalized`` is the accent-free, case-folded name that search uses;
    citizen ID, ethnicity and religion are sensitive (see members.selectors).
    """

    code = models.CharField(_("member code"), max_length=20)  # unique: see Meta.constraints
    full_name = models.CharField(_("full name"), max_length=128)
    name_normalized = models.CharField(max_length=128, editable=False)
    date_of_birth = models.DateField(_("date of birth"))
    gender = models.CharField(_("gender"), max_length=6, choices=Gender.choices)
    citizen_id = models.CharField(_("citizen ID (CCCD)"), max_length=12)  # unique: see Meta.constraints
    ethnicity = models.CharField(_("ethnicity"), max_length=64, blank=True)
    religion = models.CharField(_("religion"), max_length=64, blank=True)
    education_level = models.CharField(_("education level"), max_length=20, choices=Education.choices, blank=True)
    qualification = models.CharField(_("professional qualification"), max_length=128, blank=True)
    phone = models.CharField(_("phone"), max_length=15, blank=True)
    email = models.EmailField(_("email"), blank=True)
    occupation = models.CharField(_("occupation"), max_length=128, blank=True)
    union_position = models.CharField(_("union position"), max_length=128, blank=True)
    joined_on = models.DateField(_("date joined the union"))
    # no index of its own: the (unit, status) index below serves every lookup by unit. unit and user: no database foreign
    # key; PostgreSQL checks them once per statement and refuses deleting what a member names (migration 0006)
    unit = models.ForeignKey("organizations.Unit", verbose_name=_("unit"), on_delete=models.PROTECT, related_name="members",
                             db_index=False, db_constraint=False)
    status = models.CharField(_("status"), max_length=16, choices=MemberStatus.choices, default=MemberStatus.ACTIVE)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="member",
                                db_constraint=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MemberQuerySet.as_manager()

    class Meta:
        ordering = ["name_normalized", "id"]
        verbose_name = _("member")
        verbose_name_plural = _("members")
        # Each index costs every write: a million-row import maintains all of them. So: unique
        # constraints and indexes declared here rather than with unique=True / db_index=True,
        # because on PostgreSQL Django pairs those with a second, varchar_pattern_ops index (for
        # LIKE 'x%', which nothing here runs); no index on unit alone, (unit, status) covers it.
        # The trigram index of the name search is created by migration 0002 (PostgreSQL only).
        constraints = [
            models.UniqueConstraint(fields=["code"], name="members_member_code_uniq"),
            models.UniqueConstraint(fields=["citizen_id"], name="members_member_citizen_id_uniq"),
        ]
        indexes = [
            models.Index(fields=["unit", "status"]),
            models.Index(fields=["unit", "name_normalized"]),
            models.Index(fields=["name_normalized"], name="members_member_name_idx"),  # the name-ordered list
            models.Index(fields=["phone"], name="members_member_phone_idx"),  # search by phone number
        ]

    def __str__(self):
        return f"{self.full_name} ({self.code})"


class MembershipEvent(models.Model):
    """One event in a member's history: admission, transfer, suspension, leaving…

    An append-only history whose references carry no database foreign-key constraint
    (``db_constraint=False``): PostgreSQL checks such a constraint row by row, and for the
    admission events of a million-member import those checks cost more than writing the events
    (22 s of 87 s, see docs/import.md). The references stay sound because events are only
    written by the member services and the import, for members, units and an actor they hold
    in the same transaction (the member's own unit is still checked by PostgreSQL, once per
    statement: members migration 0006; on SQLite by the models only), and because nothing in
    the application deletes members, units or users (they leave, are dissolved, are
    deactivated); a deletion through the ORM is still refused (PROTECT) or cleared (SET_NULL)
    by Django's ``on_delete``.
    """

    # indexed by (member, kind, occurred_on) below, which also serves every lookup by member
    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="events", db_constraint=False, db_index=False)
    kind = models.CharField(_("event"), max_length=16, choices=EventKind.choices)
    occurred_on = models.DateField(_("date"))
    from_unit = models.ForeignKey("organizations.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                  db_constraint=False)
    to_unit = models.ForeignKey("organizations.Unit", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                db_constraint=False)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              db_constraint=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_on", "id"]
        verbose_name = _("membership event")
        # "admitted in a year" asks, for each member of a subtree, whether he has an admission in a
        # date range: answered from this index alone (the member list of a median province with
        # the admission year: 240 → ~75 ms under load at 1 M members, docs/dashboard.md)
        indexes = [models.Index(fields=["member", "kind", "occurred_on"], name="members_event_member_kind_date")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.occurred_on}"


class TransferQuerySet(ScopedQuerySet):
    scope_field = "member__unit__path"

    def incoming_for(self, user, action):
        """Transfers waiting for a unit in ``user``'s scope to accept."""
        from congdoan.core import paths as tree
        from congdoan.core.scoping import granted_paths

        return self.filter(tree.subtrees_q("to_unit__path", granted_paths(user, action)))


class TransferRequest(models.Model):
    """A transfer between units: requested by the sending unit, accepted by the receiving one."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="transfers")
    from_unit = models.ForeignKey("organizations.Unit", on_delete=models.PROTECT, related_name="transfers_out")
    to_unit = models.ForeignKey("organizations.Unit", verbose_name=_("receiving unit"), on_delete=models.PROTECT, related_name="transfers_in")
    status = models.CharField(_("status"), max_length=12, choices=TransferStatus.choices, default=TransferStatus.PENDING)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=255, blank=True)

    objects = TransferQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["member"], condition=models.Q(status="pending"), name="one_pending_transfer_per_member"),
        ]

    def __str__(self):
        return f"{self.member} → {self.to_unit}"
