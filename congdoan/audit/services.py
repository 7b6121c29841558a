"""Writing the audit log. Called by services, inside their transaction, never by signals."""

import datetime

from django.db import models

from congdoan.audit.models import AuditEntry
from congdoan.core.middleware import request_id_var

MASK = "•••"
#: fields whose values never reach the log; the entry records only that they changed
SENSITIVE_FIELDS = frozenset({"citizen_id", "ethnicity", "religion", "password"})


def _plain(value):
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (int, float, bool, str)):
        return value
    return str(value)


def snapshot(instance, fields) -> dict:
    """Current values of ``fields`` (attnames for foreign keys) for a later diff; all None for an object that
    does not exist yet (``instance`` None)."""
    if instance is None:
        return dict.fromkeys(fields)
    return {f: _plain(getattr(instance, f)) for f in fields}


def diff(before: dict, after: dict) -> dict:
    changes = {}
    for field, old in before.items():
        new = after.get(field)
        if old != new:
            if field in SENSITIVE_FIELDS:
                changes[field] = [MASK, MASK]
            else:
                changes[field] = [old, new]
    return changes


def audit_record(*, actor, action: str, obj, unit_path: str, changes: dict | None = None) -> AuditEntry:
    """Write one audit entry for ``obj``; values of sensitive fields are masked."""
    safe = {}
    for field, value in (changes or {}).items():
        safe[field] = [MASK, MASK] if field in SENSITIVE_FIELDS else value
    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_repr=str(obj)[:255],
        unit_path=unit_path,
        changes=safe,
        request_id=request_id_var.get() or "",
    )
