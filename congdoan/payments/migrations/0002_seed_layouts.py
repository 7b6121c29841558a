"""Statement layouts of common Vietnamese banks, as their business internet banking exports them.

Headers are compared without accents, case or extra spaces; header_row 0 finds the header row
below the bank's title block. A bank that changes its export gets a new layout (or this one
corrected) on the layouts page; see docs/payments.md.
"""

from django.db import migrations

LAYOUTS = [
    dict(name="Vietcombank (VCB DigiBiz)", bank_code="VCB", date_column="Ngày giao dịch", amount_column="Số tiền ghi có",
         debit_column="Số tiền ghi nợ", description_column="Mô tả", transaction_id_column="Số tham chiếu",
         payer_column="", encoding="utf-8", date_format="%d/%m/%Y"),
    dict(name="VietinBank (eFAST)", bank_code="CTG", date_column="Ngày giao dịch", amount_column="Có", debit_column="Nợ",
         description_column="Diễn giải", transaction_id_column="Số bút toán", payer_column="Tên người chuyển",
         encoding="utf-8", date_format="%d/%m/%Y %H:%M:%S"),
    dict(name="BIDV (BIDV iBank)", bank_code="BIDV", date_column="Ngày hiệu lực", amount_column="Ghi có", debit_column="Ghi nợ",
         description_column="Nội dung giao dịch", transaction_id_column="Số giao dịch", payer_column="",
         encoding="utf-8", date_format="%d/%m/%Y"),
    dict(name="Agribank (CSV Windows-1258)", bank_code="VBA", date_column="Ngày GD", amount_column="Phát sinh có",
         debit_column="Phát sinh nợ", description_column="Diễn giải", transaction_id_column="Số chứng từ", payer_column="",
         encoding="cp1258", date_format="%d/%m/%Y"),
]


def seed(apps, schema_editor):
    BankLayout = apps.get_model("payments", "BankLayout")
    for fields in LAYOUTS:
        BankLayout.objects.update_or_create(name=fields["name"], defaults={**fields, "header_row": 0})


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
