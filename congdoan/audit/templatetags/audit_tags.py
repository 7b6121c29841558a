"""Filters that show audit entries with human labels (see ``congdoan.audit.labels``); no queries."""

from django import template

from congdoan.audit import labels

register = template.Library()


@register.filter
def action_label(code: str):
    """``member.imported`` -> "Members imported from a file" (in the reader's language)."""
    return labels.action_label(code)
