"""Payment references (stable, checked) and VietQR payloads (EMVCo, CRC-16/CCITT-FALSE)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from congdoan.finance import vietqr
from congdoan.finance.references import parse_reference, payers_by_reference, payment_reference_for
from congdoan.organizations.models import Unit
from congdoan.payments.matching import candidates, normalize_note, period_in_note

# published with an open-source VietQR generator (github.com/subiz/vietqr, README): 120,000 đ to VietinBank
# (BIN 970415) account 0011001932418, note "ung ho lu lut"
PUBLISHED = ("00020101021238570010A00000072701270006970415011300110019324180208QRIBFTTA530370454061200005802VN"
             "62170813ung ho lu lut6304C15C")
# a static one (no amount) from the vietqr-parser Go package's documentation: Vietcombank 0881000458086
PUBLISHED_STATIC_BODY = "00020001021238570010A00000072701270006970436011308810004580860208QRIBFTTA53037045802VN6304"


def test_payload_matches_a_published_vietqr_code():
    assert vietqr.build_payload(bank_bin="970415", account_number="0011001932418", amount=120_000, purpose="ủng hộ lũ lụt") == PUBLISHED


def test_crc_is_ccitt_false():
    assert vietqr.crc16_ccitt_false("123456789") == "29B1"  # the standard check value of CRC-16/CCITT-FALSE
    assert vietqr.crc16_ccitt_false(PUBLISHED_STATIC_BODY) == "CD60"
    assert vietqr.crc16_ccitt_false(PUBLISHED[:-4]) == PUBLISHED[-4:]


def test_payload_parses_back_and_a_changed_character_breaks_the_crc():
    payload = vietqr.build_payload(bank_bin="970436", account_number="0011004123456", amount=2_469_136, purpose="KP0000004271 T05/2025")
    fields = vietqr.parse_payload(payload)
    assert fields["00"] == "01" and fields["01"] == "12" and fields["53"] == "704" and fields["54"] == "2469136" and fields["58"] == "VN"
    merchant = vietqr.parse_template(fields["38"])
    assert merchant["00"] == "A000000727" and merchant["02"] == "QRIBFTTA"
    assert vietqr.parse_template(merchant["01"]) == {"00": "970436", "01": "0011004123456"}
    assert vietqr.parse_template(fields["62"]) == {"08": "KP0000004271 T05/2025"}
    tampered = payload.replace("2469136", "2469137")
    with pytest.raises(vietqr.VietQRError) as exc:
        vietqr.parse_payload(tampered)
    assert exc.value.code == "crc_mismatch"


def test_static_payload_without_amount():
    payload = vietqr.build_payload(bank_bin="970436", account_number="0881000458086")
    assert "5303704" in payload and "54" not in vietqr.parse_payload(payload) and vietqr.parse_payload(payload)["01"] == "11"


@pytest.mark.parametrize("kwargs,code", [
    ({"bank_bin": "97041"}, "bank_bin_invalid"),
    ({"bank_bin": "abcdef"}, "bank_bin_invalid"),
    ({"account_number": ""}, "account_invalid"),
    ({"account_number": "0011-0041"}, "account_invalid"),
    ({"account_number": "1" * 20}, "account_invalid"),
    ({"amount": 0}, "amount_invalid"),
    ({"amount": -1}, "amount_invalid"),
    ({"amount": 1.5}, "amount_invalid"),
])
def test_payload_refuses_bad_inputs(kwargs, code):
    args = {"bank_bin": "970436", "account_number": "0011004123456", "amount": 10, **kwargs}
    with pytest.raises(vietqr.VietQRError) as exc:
        vietqr.build_payload(**args)
    assert exc.value.code == code


def test_note_is_ascii_and_short():
    assert vietqr.ascii_note("Đoàn phí tháng 5/2025 — Nguyễn Văn Đức") == "Doan phi thang 5/2025 Ngu"
    assert len(vietqr.ascii_note("x" * 80)) == 25


@given(st.sampled_from(["employer", "member"]), st.integers(1, 10**8 - 1))
def test_references_round_trip_and_reject_typos(kind, payer_id):
    reference = payment_reference_for(kind=kind, payer_id=payer_id)
    assert parse_reference(reference) == (kind, payer_id)
    for position in range(2, len(reference)):  # any one digit changed is not a reference of anybody
        digit = str((int(reference[position]) + 1) % 10)
        assert parse_reference(reference[:position] + digit + reference[position + 1:]) is None


def test_references_survive_the_bank_note_and_the_payments_matcher(p):
    reference = payment_reference_for(kind="employer", payer_id=p.grassroots_a.pk)
    note = normalize_note(f"CT TNHH May Song Hong chuyen KPCD {vietqr.ascii_note(reference + ' T05/2025')}")
    assert reference in candidates(note)
    assert period_in_note(note, __import__("datetime").date(2025, 6, 2)).month == 5


def test_payers_by_reference(p):
    employer = payment_reference_for(kind="employer", payer_id=p.grassroots_a.pk)
    member = payment_reference_for(kind="member", payer_id=p.member_b.pk)
    upper = payment_reference_for(kind="employer", payer_id=p.upper_a.pk)  # not an employer: unknown
    rows = payers_by_reference([employer, member, upper, "KP0000000000", "DV0123456789", "noise"])
    assert sorted(rows) == sorted([
        (employer, "employer", p.grassroots_a.pk, p.grassroots_a.pk, True),
        (member, "member", p.member_b.pk, p.grassroots_b.pk, True),
    ])
    Unit.objects.filter(pk=p.grassroots_a.pk).update(status="dissolved")
    assert payers_by_reference([employer]) == [(employer, "employer", p.grassroots_a.pk, p.grassroots_a.pk, False)]
    assert payment_reference_for(kind="employer", payer_id=10**8) == "" and payment_reference_for(kind="x", payer_id=1) == ""
