"""Template filters of the finance reports."""

from html import escape

from django import template
from django.utils.safestring import mark_safe

from congdoan.finance.templatetags.finance_tags import dong

register = template.Library()


@register.filter
def figure(f, kind: str = "amount"):
    """A dashboard figure (``selectors.Figure``): its value in đồng (``kind`` "count": a plain number),
    linked to the list that shows the same number when it has one.

    A filter rather than an included template, and the standard library's ``escape`` rather than
    ``format_html``: a province's dashboard shows some 1,500 figures."""
    text = str(f.value) if kind == "count" else dong(f.value)
    return mark_safe(f'<a href="{escape(f.url)}">{text}</a>') if f.url else text
