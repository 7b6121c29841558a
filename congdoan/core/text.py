"""Text normalization for accent-insensitive search ("nguyen van an" finds "Nguyễn Văn An")."""

import unicodedata

_D_MAP = str.maketrans({"đ": "d", "Đ": "d"})


def normalize_search(text: str | None) -> str:
    """NFC, casefold, strip combining marks, map đ to d, collapse white space.

    NFD does not decompose đ/Đ, so they are mapped by hand after the marks are stripped.
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFC", str(text)).casefold()
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.translate(_D_MAP).split())


def clean_name(text: str | None) -> str:
    """A person's or unit's name as stored: NFC with single spaces."""
    return " ".join(unicodedata.normalize("NFC", str(text or "")).split())
