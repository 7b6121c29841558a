"""PostgreSQL: the member's CCCD, code, phone and normalized name compare byte by byte (members 0007)."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("column collations are PostgreSQL's")


def test_the_columns_and_their_indexes_use_the_c_collation():
    with connection.cursor() as cur:
        cur.execute("SELECT a.attname, c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
                    "WHERE a.attrelid = 'members_member'::regclass AND a.attname = ANY(%s) ORDER BY 1",
                    [["citizen_id", "code", "phone", "name_normalized", "full_name"]])
        collations = dict(cur.fetchall())
        # the indexes built on them use it too (a look-up by CCCD compares bytes)
        cur.execute("SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
                    "JOIN pg_collation c ON c.oid = i.indcollation[0] "
                    "WHERE i.indrelid = 'members_member'::regclass AND a.attname IN ('citizen_id', 'code', 'phone') "
                    "AND c.collname <> 'C'")
        (other,) = cur.fetchone()
    assert collations == {"citizen_id": "C", "code": "C", "phone": "C", "name_normalized": "C", "full_name": "default"}
    assert other == 0


def test_names_sort_by_their_characters(personas):
    from congdoan.core.testing import make_member
    from congdoan.members.models import Member

    import datetime
    for i, name in enumerate(["Lê An B", "Le Anb", "Lê An", "LE ANH"]):
        make_member(personas.grassroots_a, full_name=name, dob=datetime.date(1990, 1, 1 + i), joined_on=datetime.date(2020, 1, 1))
    names = list(Member.objects.filter(name_normalized__startswith="le an").order_by("name_normalized")
                 .values_list("name_normalized", flat=True))
    assert names == sorted(names) == ["le an", "le an b", "le anb", "le anh"]
