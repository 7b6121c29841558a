"""On PostgreSQL, the (unit, name_normalized) index also carries the member id (INCLUDE).

A name search inside a province (``name_normalized LIKE '%nguyen%'`` over the members of a few
hundred units) then reads the names and ids from the index alone, without visiting the table:
the surname search of a median province went from ~150 ms to ~25 ms with PostgreSQL's default
settings (docs/dashboard.md). Same name, same columns, so Django's view of the index is
unchanged; SQLite has no covering indexes and keeps the plain one. No index is added: the
import's write cost stays the same.
"""

from django.db import migrations

COLUMNS = ["unit", "name_normalized"]


def _index_name(apps):
    Member = apps.get_model("members", "Member")
    return next(index.name for index in Member._meta.indexes if list(index.fields) == COLUMNS)


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    name = schema_editor.quote_name(_index_name(apps))
    schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    schema_editor.execute(f"CREATE INDEX {name} ON members_member (unit_id, name_normalized) INCLUDE (id)")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    name = schema_editor.quote_name(_index_name(apps))
    schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    schema_editor.execute(f"CREATE INDEX {name} ON members_member (unit_id, name_normalized)")


class Migration(migrations.Migration):
    dependencies = [("members", "0003_import_write_cost")]
    operations = [migrations.RunPython(forward, backward)]
