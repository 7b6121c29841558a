"""The union's usual spending headings (mục chi) as categories; see choices.SEED_CATEGORIES.

The list is copied here rather than imported so the migration keeps its meaning if the
module changes later.
"""

from django.db import migrations

CATEGORIES = [
    ("salary", "Salaries of full-time union officials", 10),
    ("allowance", "Allowances of union officials", 20),
    ("administration", "Administration", 30),
    ("activities", "Union movement activities", 40),
    ("training", "Training of union officials", 50),
    ("visits", "Visits to members", 60),
    ("hardship", "Support for members and workers", 70),
    ("other", "Other spending", 90),
]


def seed(apps, schema_editor):
    Category = apps.get_model("budgets", "Category")
    for code, name, order in CATEGORIES:
        Category.objects.update_or_create(code=code, defaults={"name": name, "sort_order": order, "is_active": True})


class Migration(migrations.Migration):
    dependencies = [("budgets", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
