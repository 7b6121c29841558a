"""PostgreSQL checks a member's unit and user once per statement (members migration 0006) instead of one
deferred foreign-key check per row at commit: a wrong reference is refused at once (SQLSTATE 23503) and named
by the member's code, never his citizen ID; what a member refers to is not deleted."""

import pytest
from django.db import IntegrityError, connection, transaction

from congdoan.accounts.models import User
from congdoan.core.testing import make_user
from congdoan.members.models import Member

pytestmark = pytest.mark.skipif("connection.vendor != 'postgresql'")

COLUMNS = ("code, full_name, name_normalized, date_of_birth, gender, citizen_id, ethnicity, religion, education_level, "
           "qualification, phone, email, occupation, union_position, joined_on, unit_id, status, user_id, created_at, "
           "updated_at")


def refused(exc_info) -> str:
    cause = exc_info.value.__cause__
    assert cause.sqlstate == "23503", cause
    return str(cause)


def insert_members(count: int, unit_id: int, *, wrong_at: int | None = None, wrong_unit: int = 987654321, prefix="T"):
    """``count`` members written by one INSERT; the one at ``wrong_at`` names ``wrong_unit``."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO members_member ({COLUMNS}) SELECT %s || lpad(g::text, 8, '0'), 'Lê Văn Tư', 'le van tu', "
            "'1990-01-01', 'male', lpad((700000000000 + g)::text, 12, '0'), '', '', '', '', '', '', '', '', '2015-01-01', "
            "CASE WHEN g = %s THEN %s ELSE %s END, 'active', NULL, now(), now() FROM generate_series(1, %s) g",
            [prefix, wrong_at or -1, wrong_unit, unit_id, count])


def test_a_member_of_a_unit_that_does_not_exist_is_refused_at_once_and_named_by_code(personas):
    unit = personas.grassroots_a.pk
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        insert_members(1, unit, wrong_at=1)
    message = refused(exc)
    assert "T00000001" in message and "987654321" in message
    assert "700000000001" not in message  # the citizen ID is sensitive: never in an error (nor the log)
    insert_members(1, unit)
    assert Member.objects.filter(code="T00000001", unit_id=unit).exists()


@pytest.mark.parametrize("wrong_at", [1, 600, 1200])
def test_one_wrong_unit_among_a_large_statement_is_found(personas, wrong_at):
    """From ``FEW_ROWS`` rows each distinct unit is probed once: one unit that does not exist, first, in the middle
    or last, refuses the whole statement; the same rows with the right unit are written."""
    from congdoan.core.statement_checks import FEW_ROWS

    assert 1200 >= FEW_ROWS
    unit = personas.grassroots_a.pk
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        insert_members(1200, unit, wrong_at=wrong_at, prefix="L")
    assert f"L{wrong_at:08d}" in refused(exc)
    assert not Member.objects.filter(code__startswith="L").exists()
    insert_members(1200, unit, prefix="L")
    assert Member.objects.filter(code__startswith="L", unit_id=unit).count() == 1200


def test_an_update_to_a_missing_unit_or_user_is_refused(personas):
    member = personas.member_a
    for column in ("unit_id", "user_id"):
        with pytest.raises(IntegrityError) as exc, transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE members_member SET {column} = 987654321 WHERE id = %s", [member.pk])
        assert member.code in refused(exc)
    member.refresh_from_db()
    member.unit = personas.grassroots_b  # a real unit: the ORM's save goes through
    member.save()
    assert Member.objects.get(pk=member.pk).unit_id == personas.grassroots_b.pk


def test_a_unit_with_members_and_a_members_login_are_not_deleted_by_hand(personas):
    member = personas.member_a
    login = make_user("dang_nhap_dv")
    Member.objects.filter(pk=member.pk).update(user=login)
    for table, pk, words in (("organizations_unit", member.unit_id, "has members"),
                             ("accounts_user", login.pk, "member's login")):
        with pytest.raises(IntegrityError) as exc, transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {table} WHERE id = %s", [pk])
        assert words in refused(exc)
    User.objects.filter(pk=login.pk).delete()  # the ORM sets the member's user to NULL first (SET_NULL), as before
    member.refresh_from_db()
    assert member.user_id is None


def test_one_missing_user_among_a_large_statement_is_found(personas):
    unit = personas.grassroots_a.pk
    login = make_user("dang_nhap_lon")
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO members_member ({COLUMNS}) SELECT 'U' || lpad(g::text, 8, '0'), 'Lê Văn Tư', 'le van tu', "
                "'1990-01-01', 'male', lpad((710000000000 + g)::text, 12, '0'), '', '', '', '', '', '', '', '', '2015-01-01', "
                "%s, 'active', CASE WHEN g = 700 THEN 987654321 WHEN g = 1 THEN %s END, now(), now() "
                "FROM generate_series(1, 1200) g", [unit, login.pk])
    assert "U00000700" in refused(exc) and "987654321" in refused(exc)
    assert not Member.objects.filter(code__startswith="U").exists()


@pytest.mark.django_db(transaction=True)
def test_a_unit_named_by_a_member_being_written_is_not_deleted_meanwhile(personas):
    """The check locks the units it found (FOR KEY SHARE, as a foreign key does): deleting one while another
    transaction writes a member into it waits for that transaction, instead of leaving the member without a unit."""
    import psycopg
    from psycopg import errors

    from congdoan.organizations.services import unit_create

    unit = unit_create(actor=None, parent=personas.upper_a, level="grassroots", code="CD-LOCK", name="Công đoàn cơ sở thử khóa")
    settings = connection.settings_dict
    params = {"dbname": settings["NAME"], "user": settings["USER"], "host": settings["HOST"] or None,
              "port": settings["PORT"] or None, "password": settings["PASSWORD"] or None}
    with psycopg.connect(**params) as writer, psycopg.connect(**params, autocommit=True) as deleter:
        writer.execute(f"INSERT INTO members_member ({COLUMNS}) VALUES ('K00000001', 'Lê Văn Tư', 'le van tu', '1990-01-01', "
                       "'male', '720000000001', '', '', '', '', '', '', '', '', '2015-01-01', %s, 'active', NULL, now(), now())",
                       [unit.pk])
        deleter.execute("SET lock_timeout = '300ms'")
        with pytest.raises(errors.LockNotAvailable):  # waits for the writer: the unit is locked by the check
            deleter.execute("DELETE FROM organizations_unit WHERE id = %s", [unit.pk])
        writer.commit()
        with pytest.raises(errors.ForeignKeyViolation) as refused_after:  # then the guard sees the member
            deleter.execute("DELETE FROM organizations_unit WHERE id = %s", [unit.pk])
        assert "has members" in str(refused_after.value)
