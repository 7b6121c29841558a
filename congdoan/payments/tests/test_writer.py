"""The writer's questions to the lines table: which bank transaction IDs an account already has, the line ids."""

import datetime

import pytest
from django.db import connection

from congdoan.payments import writer
from congdoan.payments.models import BankTransaction, StatementImport

D = datetime.date


def lines(account, *txn_ids):
    job = StatementImport.objects.create(bank_account=account, format="table", original_name="s.csv", file_sha256="0" * 64)
    for number, txn_id in enumerate(txn_ids, start=1):
        BankTransaction.objects.create(bank_account=account, statement_import=job, bank_txn_id=txn_id, booked_on=D(2025, 6, number),
                                       amount=1000 * number, status="unmatched", line_no=number)


def test_existing_finds_the_accounts_own_lines_by_id(personas, account_a, account_b):
    lines(account_a, "FT100", "FT300")
    lines(account_b, "FT200")
    assert writer.existing(account_a.pk, ["FT150", "FT200", "FT250"]) == {}  # another account's line is not the account's
    assert writer.existing(account_a.pk, ["FT050", "FT200"]) == {}
    # the IDs themselves, in any order, found with their figures
    assert writer.existing(account_a.pk, ["FT999", "FT100", "FT200"]) == {"FT100": (1000, D(2025, 6, 1))}
    assert writer.existing(account_a.pk, ["FT300"]) == {"FT300": (2000, D(2025, 6, 2))}
    assert writer.existing(account_b.pk, ["FT100", "FT200", "FT300"]) == {"FT200": (1000, D(2025, 6, 1))}
    assert writer.existing(account_a.pk, []) == {}


def test_existing_asks_in_batches(personas, account_a):
    lines(account_a, "A0001", "A0500", "A0999")
    wanted = [f"A{i:04d}" for i in range(1000, 0, -1)]  # more IDs than one SQLite batch, in reverse order
    assert set(writer.existing(account_a.pk, wanted)) == {"A0001", "A0500", "A0999"}


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_line_ids_are_drawn_from_the_lines_sequence(personas, account_a):
    ids = writer.draw_line_ids(500)
    assert len(set(ids)) == 500 and ids == sorted(ids)
    lines(account_a, "FT1")  # a line written after takes the next id of the same sequence
    assert BankTransaction.objects.get(bank_txn_id="FT1").pk > ids[-1]
    with connection.cursor() as cur:
        cur.execute("SELECT last_value FROM payments_banktransaction_id_seq")
        assert cur.fetchone()[0] == BankTransaction.objects.get(bank_txn_id="FT1").pk
