from django.core.management.base import BaseCommand

from congdoan.accounts.models import User
from congdoan.core.management.commands.seed_demo import DEMO_PASSWORD, DEMO_USERS
from congdoan.members.models import Member


class Command(BaseCommand):
    help = "Print the demo logins."

    def handle(self, *args, **options):
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, _name, unit_code, role, note in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                self.stdout.write(f"  {username:<18} {role:<11} {unit_code:<14} {note}")
        member = Member.objects.filter(user__isnull=False).select_related("user").order_by("code").first()
        if member:
            self.stdout.write(f"  {member.user.username:<18} {'member':<11} {'':<14} a member: own record and QR card")
