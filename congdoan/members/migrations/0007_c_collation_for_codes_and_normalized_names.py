"""On PostgreSQL, the member's CCCD, code, phone and normalized name compare byte by byte (COLLATE "C").

These columns hold digits, codes and the accent-free, case-folded name (core.text.normalize_search):
their order is the order of their characters whatever the database's locale. Under a libc locale
(en_US.UTF-8, vi_VN, even C.UTF-8) PostgreSQL compares texts through strcoll and without abbreviated
keys; under "C" it compares bytes. Measured at a million members (docs/import.md): the unique CCCD
index builds in 0.49 instead of 0.87 s, the code index in 0.32 instead of 0.50 s, the phone index in
0.39 instead of 0.85 s, the name index in 0.60 instead of 0.88 s, and every look-up by CCCD or code
compares faster. On a C.UTF-8 database (as here) the order of every query stays the same; on an
en_US or vi_VN database, names with the same letters sort by their spaces too.

The models do not declare the collation (SQLite has no "C" collation and keeps its own binary
order): a later migration that alters one of these columns must restate COLLATE "C" on PostgreSQL,
or Django's ALTER COLUMN … TYPE would give the column the database's collation back (the test
congdoan/members/tests/test_collation_pg.py notices).
"""

from django.db import migrations

from congdoan.core.statement_checks import on_postgresql

COLUMNS = {"citizen_id": "varchar(12)", "code": "varchar(20)", "phone": "varchar(15)", "name_normalized": "varchar(128)"}
FORWARD = ["ALTER TABLE members_member " + ", ".join(f'ALTER COLUMN {c} TYPE {t} COLLATE "C"' for c, t in COLUMNS.items())]
BACKWARD = ["ALTER TABLE members_member " + ", ".join(f"ALTER COLUMN {c} TYPE {t} COLLATE pg_catalog.\"default\""
                                                      for c, t in COLUMNS.items())]


class Migration(migrations.Migration):
    dependencies = [("members", "0006_member_references_per_statement")]
    operations = [migrations.RunPython(on_postgresql(FORWARD), on_postgresql(BACKWARD))]
