"""Fewer indexes and foreign-key checks for the member table's bulk writes (docs/import.md).

- code and citizen_id: unique constraints instead of unique=True, and name_normalized and phone
  indexed by Meta.indexes instead of db_index=True: on PostgreSQL Django added a second,
  varchar_pattern_ops index to each (for LIKE 'x%', which no query runs); those four go.
- unit: no index of its own; the (unit, status) index serves every lookup by unit.
- MembershipEvent's references lose their database foreign-key constraint (see its docstring).

Five fewer indexes on PostgreSQL (one fewer on SQLite); the same queries use the same kind of index.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0002_postgres_trigram'),
        ('organizations', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='member',
            name='citizen_id',
            field=models.CharField(max_length=12, verbose_name='citizen ID (CCCD)'),
        ),
        migrations.AlterField(
            model_name='member',
            name='code',
            field=models.CharField(max_length=20, verbose_name='member code'),
        ),
        migrations.AlterField(
            model_name='member',
            name='name_normalized',
            field=models.CharField(editable=False, max_length=128),
        ),
        migrations.AlterField(
            model_name='member',
            name='phone',
            field=models.CharField(blank=True, max_length=15, verbose_name='phone'),
        ),
        migrations.AlterField(
            model_name='member',
            name='unit',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='members', to='organizations.unit', verbose_name='unit'),
        ),
        migrations.AlterField(
            model_name='membershipevent',
            name='actor',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='membershipevent',
            name='from_unit',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='organizations.unit'),
        ),
        migrations.AlterField(
            model_name='membershipevent',
            name='member',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='members.member'),
        ),
        migrations.AlterField(
            model_name='membershipevent',
            name='to_unit',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='organizations.unit'),
        ),
        migrations.AddIndex(
            model_name='member',
            index=models.Index(fields=['name_normalized'], name='members_member_name_idx'),
        ),
        migrations.AddIndex(
            model_name='member',
            index=models.Index(fields=['phone'], name='members_member_phone_idx'),
        ),
        migrations.AddConstraint(
            model_name='member',
            constraint=models.UniqueConstraint(fields=('code',), name='members_member_code_uniq'),
        ),
        migrations.AddConstraint(
            model_name='member',
            constraint=models.UniqueConstraint(fields=('citizen_id',), name='members_member_citizen_id_uniq'),
        ),
    ]
