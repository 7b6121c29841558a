"""A member's unit and user are checked once per statement instead of one deferred foreign-key check per row.

Importing a million members queued two deferred foreign-key checks per row (unit, and user even when NULL) and
ran them one by one at commit: 3.7 s of a 42.8 s import (docs/import.md). On PostgreSQL the references of the
rows an INSERT or UPDATE wrote are now checked after the statement, over its rows (a transition table): each
distinct unit and user is looked up once and locked as a foreign key locks it (FOR KEY SHARE), so that deleting
it meanwhile waits for the writing transaction and then meets the delete guard. A member naming a unit or a user
that does not exist is refused at once (SQLSTATE 23503), named by his member code, never his citizen ID. What the
foreign keys also guarded, deleting the row referred to: a unit with members and a user linked to a member refuse
DELETE (the ORM keeps PROTECT for the unit, and sets the member's user to NULL before it deletes a user, as
before). SQLite keeps the models' checks only.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from congdoan.core.statement_checks import delete_guard, on_postgresql


ROWS = "members_member_refs_written"
ROW_QUERY = (f"SELECT n.code, n.unit_id, n.user_id FROM {ROWS} n "
             "WHERE NOT EXISTS (SELECT 1 FROM organizations_unit u WHERE u.id = n.unit_id) "
             "OR (n.user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM accounts_user a WHERE a.id = n.user_id))")


def _locked(column: str, table: str) -> str:
    """Whether fewer of the distinct values of ``column`` have their row in ``table`` (those rows locked FOR KEY SHARE as
    a foreign key locks them) than were written (NULLs are no reference). Hashed, not sorted: 50,000 rows a chunk."""
    return (f"(WITH v AS (SELECT DISTINCT {column} AS id FROM {ROWS} WHERE {column} IS NOT NULL) "
            f"SELECT (SELECT count(*) FROM (SELECT r.id FROM {table} r JOIN v ON r.id = v.id FOR KEY SHARE OF r) l) "
            f"<> (SELECT count(*) FROM v))")


# each distinct unit and user is looked up once and locked the way a foreign key locks it: a DELETE of one of them
# waits for this transaction and its guard below then sees the members written (a plain look-up would let a unit be
# deleted between the check and the commit); planned per statement (EXECUTE), like core.statement_checks
MEMBER_CHECK = f"""
    CREATE OR REPLACE FUNCTION members_check_member_references() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
    DECLARE
        bad record;
        missing boolean;
        found_rows bigint;
    BEGIN
        EXECUTE 'SELECT {_locked("unit_id", "organizations_unit")} OR {_locked("user_id", "accounts_user")}' INTO missing;
        IF missing THEN
            EXECUTE '{ROW_QUERY} LIMIT 1' INTO bad;
            GET DIAGNOSTICS found_rows = ROW_COUNT;
            IF found_rows > 0 THEN
                RAISE EXCEPTION 'members: member % names unit % or user % that does not exist', bad.code, bad.unit_id,
                    bad.user_id USING ERRCODE = '23503';
            END IF;
        END IF;
        RETURN NULL;
    END $$
    """


PG_FORWARD = [
    MEMBER_CHECK,
    *[f"CREATE TRIGGER members_member_references_{event.lower()} AFTER {event} ON members_member "
      f"REFERENCING NEW TABLE AS {ROWS} FOR EACH STATEMENT EXECUTE FUNCTION members_check_member_references()"
      for event in ("INSERT", "UPDATE")],
    *delete_guard("members_unit_has_members", "organizations_unit",
            "EXISTS (SELECT 1 FROM members_member WHERE unit_id = OLD.id)",
            "'members: unit % has members and cannot be deleted'"),
    *delete_guard("members_user_is_member", "accounts_user",
            "EXISTS (SELECT 1 FROM members_member WHERE user_id = OLD.id)",
            "'members: user % is a member''s login and cannot be deleted'"),
]
PG_BACKWARD = [
    "DROP TRIGGER IF EXISTS members_user_is_member ON accounts_user",
    "DROP TRIGGER IF EXISTS members_unit_has_members ON organizations_unit",
    "DROP TRIGGER IF EXISTS members_member_references_insert ON members_member",
    "DROP TRIGGER IF EXISTS members_member_references_update ON members_member",
    "DROP FUNCTION IF EXISTS members_user_is_member()",
    "DROP FUNCTION IF EXISTS members_unit_has_members()",
    "DROP FUNCTION IF EXISTS members_check_member_references()",
]


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0005_event_member_kind_date_index'),
        ('organizations', '0002_employer_type_armed_forces'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # backwards: the foreign keys come back (checking every row), then the statement-level checks go
        migrations.RunPython(migrations.RunPython.noop, on_postgresql(PG_BACKWARD)),
        migrations.AlterField(
            model_name='member',
            name='unit',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='members', to='organizations.unit', verbose_name='unit'),
        ),
        migrations.AlterField(
            model_name='member',
            name='user',
            field=models.OneToOneField(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='member', to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(on_postgresql(PG_FORWARD), migrations.RunPython.noop),
    ]
