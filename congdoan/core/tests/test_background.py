"""COPY's text format as the imports write it (``core.background``)."""

import datetime

import pytest

from congdoan.core.background import COPY_NULL, copy_field, copy_text


@pytest.mark.parametrize("text,written", [
    ("CONG TY TNHH SO 1 NOP KPCD T05/2025", "CONG TY TNHH SO 1 NOP KPCD T05/2025"),
    ("Nguyễn Văn An", "Nguyễn Văn An"),
    ("a\\b", "a\\\\b"),
    ("a\tb", "a\\tb"),
    ("a\nb", "a\\nb"),
    ("a\rb", "a\\rb"),
    ("\\N", "\\\\N"),  # a text that reads like NULL stays a text
    ("x\t\\\r\n", "x\\t\\\\\\r\\n"),
    ("", ""),
])
def test_text_is_escaped_exactly_where_copy_needs_it(text, written):
    assert copy_text(text) == written
    assert copy_field(text) == written


def test_other_values():
    assert copy_field(None) == COPY_NULL
    assert copy_field(datetime.date(2025, 6, 1)) == "2025-06-01"
    assert copy_field(12345) == "12345"
