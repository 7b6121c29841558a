"""Recount the dashboard's per-unit member figures from the member table."""

import time

from django.core.management.base import BaseCommand

from congdoan.dashboard.services import rebuild_unit_stats


class Command(BaseCommand):
    help = "Recount the dashboard's per-unit member figures (run after loading members in bulk)."

    def handle(self, *args, **options):
        start = time.perf_counter()
        rows = rebuild_unit_stats()
        self.stdout.write(self.style.SUCCESS(f"Dashboard figures rebuilt: {rows} rows in {time.perf_counter() - start:.1f} s."))
