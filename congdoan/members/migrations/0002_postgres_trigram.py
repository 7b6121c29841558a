"""On PostgreSQL, trigram GIN indexes back the accent-free name search (LIKE '%…%').

SQLite has no such index; the migration does nothing there.
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS members_member_name_trgm ON members_member USING gin (name_normalized gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS organizations_unit_name_trgm ON organizations_unit USING gin (name_normalized gin_trgm_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS members_member_name_trgm",
    "DROP INDEX IF EXISTS organizations_unit_name_trgm",
]


def run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return apply


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial"), ("organizations", "0001_initial")]
    operations = [migrations.RunPython(run(FORWARD), run(BACKWARD))]
