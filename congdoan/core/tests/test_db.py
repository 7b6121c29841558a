"""core.db.local_settings: PostgreSQL settings for a block, then back to what they were."""

import pytest
from django.db import connection, transaction

from congdoan.core.db import local_settings

pytestmark = pytest.mark.django_db


def _settings(*names):
    with connection.cursor() as cur:
        cur.execute("SELECT " + ", ".join(["current_setting(%s)"] * len(names)), list(names))
        return cur.fetchone()


def test_settings_hold_inside_the_block_and_come_back_after():
    if connection.vendor != "postgresql":
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries, local_settings(connection, {"jit": "off"}):
            pass
        assert len(queries) == 0  # nothing to set, nothing asked of the database
        return
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '8MB'")  # a value of the caller's, not the server's default
        before = _settings("jit", "work_mem")
        with local_settings(connection, {"jit": "off", "work_mem": "64MB"}):
            assert _settings("jit", "work_mem") == ("off", "64MB")
        assert _settings("jit", "work_mem") == before == (before[0], "8MB")
