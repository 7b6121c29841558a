from django import template

register = template.Library()


@register.filter
def vnd(value) -> str:
    """1234567 -> "1.234.567 đ" (the Vietnamese way: dots between thousands)."""
    if value is None or value == "":
        return "—"
    try:
        return f"{int(value):,}".replace(",", ".") + " đ"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None
