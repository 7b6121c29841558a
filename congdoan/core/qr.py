"""QR codes as inline SVG (segno)."""

import io

import segno


def qr_svg(data: str, scale: int = 4) -> str:
    """An inline SVG with a viewBox and no fixed size (CSS sizes it), with the standard 4-module quiet zone."""
    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind="svg", scale=scale, xmldecl=False, svgns=True, border=4, omitsize=True)
    return buffer.getvalue().decode()
