"""Figures for the dashboard, always inside the user's scope."""

from django.db.models import Count, Q

from congdoan.members.choices import MemberStatus
from congdoan.members.models import Member
from congdoan.organizations.models import Unit


def scope_summary(user) -> dict:
    units = Unit.objects.restrict(user).active().aggregate(total=Count("id"), grassroots=Count("id", filter=Q(level="grassroots")))
    members = Member.objects.restrict(user).aggregate(
        total=Count("id", filter=Q(status=MemberStatus.ACTIVE)),
        female=Count("id", filter=Q(status=MemberStatus.ACTIVE, gender="female")),
    )
    return {"units": units, "members": members}
