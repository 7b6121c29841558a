"""Load the Vietnamese demo data: a national federation, two provinces, ~200 grassroots
unions and ~10,000 members, plus demo logins (see demo_logins)."""

import random

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from congdoan.accounts.models import RoleAssignment, User
from congdoan.core import demo_data
from congdoan.core.demo_finance import seed_finance
from congdoan.core.text import normalize_search
from congdoan.dashboard.services import rebuild_unit_stats
from congdoan.members.choices import EventKind
from congdoan.members.models import Member, MembershipEvent
from congdoan.organizations.choices import Kind, Level
from congdoan.organizations.models import Unit
from congdoan.organizations.services import unit_create

DEMO_PASSWORD = "congdoan2026"
DEMO_USERS = [
    # username, full name, unit code, role, note
    ("admin", "Quản trị Tổng Liên đoàn", "TLD", "chair", "national federation"),
    ("phutho.chutich", "Nguyễn Thị Hồng Vân", "PTO", "chair", "Phú Thọ province federation"),
    ("haiphong.chutich", "Trần Văn Hải", "HPG", "chair", "Hải Phòng city federation (another branch)"),
    ("cdcs.chutich", "Lê Thị Thu Hà", "PTO-VTR-0001", "chair", "one grassroots union"),
    ("cdcs.ketoan", "Phạm Minh Tuấn", "PTO-VTR-0001", "accountant", "accountant: no citizen IDs"),
]


class Command(BaseCommand):
    help = "Load Vietnamese demo data (units, members, logins)."

    def add_arguments(self, parser):
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when units already exist.")
        parser.add_argument("--members", type=int, default=10_000)
        parser.add_argument("--grassroots", type=int, default=200)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, if_empty=False, members=10_000, grassroots=200, seed=2026, **options):
        if if_empty and Unit.objects.exists():
            self.stdout.write("Demo data already present.")
            return
        with transaction.atomic():
            self._seed(random.Random(seed), members, grassroots)
            # the demo members are bulk-created: count them once for the dashboards
            rebuild_unit_stats()
        self.stdout.write(self.style.SUCCESS(
            f"Loaded {Unit.objects.count()} units and {Member.objects.count()} members."))

    def _seed(self, rng, member_total, grassroots_total):
        today = timezone.localdate()
        national = unit_create(actor=None, parent=None, level=Level.NATIONAL, code="TLD",
                               name="Tổng Liên đoàn Lao động Việt Nam", province="Hà Nội")
        pto = unit_create(actor=None, parent=national, level=Level.PROVINCE, code="PTO",
                          name="Liên đoàn Lao động tỉnh Phú Thọ", province="Phú Thọ")
        hpg = unit_create(actor=None, parent=national, level=Level.PROVINCE, code="HPG",
                          name="Liên đoàn Lao động thành phố Hải Phòng", province="Hải Phòng")
        uppers = [
            (pto, "PTO-VTR", "Liên đoàn Lao động thành phố Việt Trì", Kind.DISTRICT),
            (pto, "PTO-PNI", "Liên đoàn Lao động huyện Phù Ninh", Kind.DISTRICT),
            (pto, "PTO-LTH", "Liên đoàn Lao động huyện Lâm Thao", Kind.DISTRICT),
            (pto, "PTO-KCN", "Công đoàn các Khu công nghiệp tỉnh Phú Thọ", Kind.INDUSTRIAL_ZONE),
            (pto, "PTO-GD", "Công đoàn ngành Giáo dục tỉnh Phú Thọ", Kind.LOCAL_SECTOR),
            (hpg, "HPG-KKT", "Công đoàn Khu kinh tế Hải Phòng", Kind.INDUSTRIAL_ZONE),
            (hpg, "HPG-LCH", "Liên đoàn Lao động quận Lê Chân", Kind.DISTRICT),
        ]
        upper_units = [unit_create(actor=None, parent=p, level=Level.UPPER_GRASSROOTS, code=c, name=n, kind=k,
                                   province=p.province) for p, c, n, k in uppers]
        grassroots_units = []
        for i in range(grassroots_total):
            upper = upper_units[i % len(upper_units)]
            employer, employer_type = demo_data.employer(rng)
            if upper.code == "PTO-GD":
                employer, employer_type = f"{rng.choice(demo_data.SCHOOLS)} {rng.choice(demo_data.PLACES)}", "public_service"
            seq = sum(1 for u in grassroots_units if u.parent_id == upper.pk) + 1
            grassroots_units.append(unit_create(
                actor=None, parent=upper, level=Level.GRASSROOTS, code=f"{upper.code}-{seq:04d}",
                name=f"Công đoàn cơ sở {employer}", employer_type=employer_type, employer_name=employer,
                employer_tax_code=demo_data.tax_code(rng), worker_count=rng.randint(30, 900),
                address=f"{rng.choice(demo_data.PLACES)}, {upper.province}", province=upper.province,
                founded_on=today.replace(year=today.year - rng.randint(1, 30), day=1),
            ))
        first = grassroots_units[0]
        subs = [unit_create(actor=None, parent=first, level=Level.SUB_UNION, code=f"{first.code}-BP{n}",
                            name=f"Công đoàn bộ phận Phân xưởng {n}") for n in (1, 2)]
        unit_create(actor=None, parent=subs[0], level=Level.UNION_GROUP, code=f"{first.code}-BP1-T1", name="Tổ công đoàn Tổ may 1")

        member_units = grassroots_units + subs
        weights = [rng.randint(10, 90) for _ in member_units]
        members = []
        for serial in range(member_total):
            row = demo_data.member_row(rng, serial, today)
            unit = rng.choices(member_units, weights)[0] if serial >= 40 else first
            members.append(Member(code=f"DV{serial + 1:010d}", unit=unit, name_normalized=normalize_search(row["full_name"]), **row))
        Member.objects.bulk_create(members, batch_size=2000)
        saved = Member.objects.values_list("pk", "unit_id", "joined_on")
        MembershipEvent.objects.bulk_create(
            [MembershipEvent(member_id=pk, kind=EventKind.ADMISSION, occurred_on=joined, to_unit_id=unit_id)
             for pk, unit_id, joined in saved], batch_size=2000)

        units_by_code = {u.code: u for u in Unit.objects.filter(code__in=[u[2] for u in DEMO_USERS])}
        users = {}
        for username, full_name, unit_code, role, _note in DEMO_USERS:
            user = User(username=username, full_name=full_name, is_superuser=username == "admin", is_staff=username == "admin")
            user.set_password(DEMO_PASSWORD)
            user.save()
            RoleAssignment.objects.create(user=user, unit=units_by_code[unit_code], role=role)
            users[username] = user
        member = Member.objects.filter(unit=first).order_by("code").first()
        member_user = User(username=member.code, full_name=member.full_name)
        member_user.set_password(DEMO_PASSWORD)
        member_user.save()
        member.user = member_user
        member.save(update_fields=["user"])
        seed_finance(rng=rng, today=today, district_code="PTO-VTR", users=users)
