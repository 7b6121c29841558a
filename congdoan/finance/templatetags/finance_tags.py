from django import template

register = template.Library()


@register.filter
def bp(value) -> str:
    """Basis points as a Vietnamese percentage: 200 -> "2 %", 50 -> "0,5 %", 7500 -> "75 %"."""
    if value is None or value == "":
        return "—"
    whole, rest = divmod(int(value), 100)
    return f"{whole},{rest:02d}".rstrip("0").rstrip(",") + " %"


@register.filter
def dong(value) -> str:
    """1234567 -> "1.234.567 đ"; negative amounts keep their sign."""
    if value is None or value == "":
        return "—"
    return f"{int(value):,}".replace(",", ".") + " đ"
