import datetime

import pytest

from congdoan.payments.matching import candidates, normalize_key, normalize_note, period_in_note


@pytest.mark.parametrize("note,expected", [
    ("Công ty Đại Việt nộp KPCĐ", "CONG TY DAI VIET NOP KPCD"),
    ("ĐOÀN PHÍ tháng 5", "DOAN PHI THANG 5"),
    ("plain ascii", "PLAIN ASCII"),
])
def test_normalize_note(note, expected):
    assert normalize_note(note) == expected


def test_normalize_key_keeps_letters_and_digits():
    assert normalize_key(" dv-0123 456 789 ") == "DV0123456789"
    assert normalize_key("0101234567-001") == "0101234567001"


@pytest.mark.parametrize("note,present,absent", [
    ("KPCD T5/2025 MST 2600123456", {"2600123456", "MST2600123456"}, {"2025", "T5"}),
    ("DOAN PHI DV 0123456789 NGUYEN VAN AN", {"DV0123456789"}, {"NGUYEN", "0123456789AN"}),
    ("DOAN PHI DV.0123456789", {"DV0123456789"}, set()),
    ("NOP KPCD CHI NHANH 0101234567-001", {"0101234567001", "0101234567"}, set()),
    ("2600123456 052025", {"2600123456", "052025"}, {"2600123456052025"}),
])
def test_candidate_keys(note, present, absent):
    found = set(candidates(normalize_note(note)))
    assert present <= found
    assert not absent & found


@pytest.mark.parametrize("note,month", [
    ("KPCD T5/2025 MST 2600123456", datetime.date(2025, 5, 1)),
    ("DOAN PHI THANG 04-2025", datetime.date(2025, 4, 1)),
    ("NOP KPCD KY 12/2024", datetime.date(2024, 12, 1)),
    ("NOP KPCD", datetime.date(2025, 6, 1)),  # no month in the note: the month of the payment
    ("MST 2600123456/2025", datetime.date(2025, 6, 1)),  # digits of a code are not a month
    ("T13/2025", datetime.date(2025, 6, 1)),
])
def test_period_in_note(note, month):
    assert period_in_note(normalize_note(note), datetime.date(2025, 6, 12)) == month


@pytest.mark.django_db
def test_an_all_digit_key_is_kept_only_when_it_is_an_employers_tax_code(personas):
    """The bank's own numbers in a note are dropped before any look-up; tax codes, member codes and references
    (which hold letters) are kept, and the line still finds its payer."""
    from congdoan.payments.matching import Resolver

    resolver = Resolver()
    note = normalize_note("MBVCB.8812345678.123456.CONG TY NOP KPCD MST 2600123456 DV0000000001 KP0000004271 0101234567-001")
    kept = candidates(note, resolver.tax_codes())
    assert set(candidates(note)) - set(kept) == {"8812345678", "123456", "0101234567001", "0101234567"}
    assert "2600123456" in kept and "DV0000000001" in kept and "KP0000004271" in kept
    assert "8812345678" not in kept and "123456" not in kept
    assert "MBVCB8812345678" in kept  # letters: could be a member code, looked up
    resolver.resolve(set(kept))
    assert [p.unit_id for p in resolver.payers_of(["2600123456"])] == [personas.grassroots_a.pk]
