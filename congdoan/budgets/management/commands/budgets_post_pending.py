"""Post to the ledger the approved expenses still waiting for it (approved before finance was connected,
or refused by the ledger at the time, e.g. a month closed since)."""

from django.core.management.base import BaseCommand

from congdoan.budgets import ledger, services


class Command(BaseCommand):
    help = "Post approved expenses that are not in the ledger yet."

    def handle(self, *args, **options):
        if not ledger.available():
            self.stderr.write("congdoan.finance does not provide ledger_post: nothing posted.")
            return
        posted, refused = services.expense_post_pending(actor=None)
        self.stdout.write(f"posted: {posted}, refused by the ledger: {refused}")
