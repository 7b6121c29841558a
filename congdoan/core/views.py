"""Shared view helpers: one way to render pages and HTMX partials, and to show domain errors."""

from django.core.paginator import Paginator
from django.shortcuts import render

from congdoan.core.errors import DomainError

PAGE_SIZE = 50


def render_page(request, template: str, context: dict, partial: str | None = None, status: int = 200):
    """The whole page, or only its named partial when HTMX asks (same view, same query)."""
    if partial and getattr(request, "htmx", False) and not request.htmx.boosted:
        template = f"{template}#{partial}"
    return render(request, template, context, status=status)


def form_error(form, exc: DomainError):
    """Attach a domain error to the form field it names, or to the form as a whole."""
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, str(exc.message))


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    paginator = Paginator(queryset, per_page)
    return paginator.get_page(request.GET.get("page"))


def query_without_page(request) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()
