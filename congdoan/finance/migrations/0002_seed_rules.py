"""The rules in force, as we read them (see docs/finance.md, "The rules"); national finance officials
correct and extend them on /finance/rules/. Rates and shares are in basis points (1/10,000),
the base salary in đồng, exemptions 1/0."""

import datetime

from django.db import migrations

D = datetime.date
LAW_2012 = "Luật Công đoàn số 12/2012/QH13, Điều 26; Nghị định 191/2013/NĐ-CP, Điều 5"
LAW_2024 = "Luật Công đoàn số 50/2024/QH15 (hiệu lực 01/07/2025), Điều 29"
DUES_2016 = "Quyết định 1908/QĐ-TLĐ ngày 19/12/2016 về thu, chi đoàn phí (theo cách chúng tôi hiểu)"
DUES_2025 = "Quyết định 61/QĐ-TLĐ năm 2025, hiệu lực 01/07/2025 (theo cách chúng tôi hiểu)"
SHARES = "Quyết định 8108/QĐ-TLĐ về phân phối nguồn thu (tỷ lệ của các cấp trên: theo cách chúng tôi hiểu, cần đối chiếu)"
EXEMPT = ("Chủ trương dừng thu kinh phí công đoàn, đoàn phí tại cơ quan hành chính nhà nước và lực lượng vũ trang "
          "từ 01/06/2025 (theo cách chúng tôi hiểu)")

RULES = [
    # kind, level, employer type, value, valid from, legal basis, note
    ("union_fee_rate", "", "", 200, D(2013, 1, 1), LAW_2012, "2 % quỹ tiền lương làm căn cứ đóng BHXH"),
    ("union_fee_rate", "", "", 200, D(2025, 7, 1), LAW_2024, "2 % quỹ tiền lương làm căn cứ đóng BHXH"),
    ("dues_rate", "", "", 100, D(2017, 1, 1), DUES_2016, "1 % tiền lương làm căn cứ đóng BHXH"),
    ("dues_rate", "", "", 50, D(2025, 7, 1), DUES_2025, "0,5 % tiền lương làm căn cứ đóng BHXH"),
    ("dues_cap", "", "", 1000, D(2017, 1, 1), DUES_2016, "tối đa 10 % lương cơ sở"),
    ("dues_cap", "", "", 1000, D(2025, 7, 1), DUES_2025, "tối đa 10 % lương cơ sở"),
    ("dues_floor", "", "", 50, D(2025, 7, 1), DUES_2025, "tối thiểu 0,5 % lương cơ sở"),
    ("base_salary", "", "", 1_490_000, D(2019, 7, 1), "Nghị định 38/2019/NĐ-CP", ""),
    ("base_salary", "", "", 1_800_000, D(2023, 7, 1), "Nghị định 24/2023/NĐ-CP", ""),
    ("base_salary", "", "", 2_340_000, D(2024, 7, 1), "Nghị định 73/2024/NĐ-CP", ""),
    ("union_fee_exempt", "", "state_agency", 1, D(2025, 6, 1), EXEMPT,
     "Lực lượng vũ trang: chưa có loại đơn vị sử dụng lao động tương ứng trong dữ liệu"),
    ("dues_exempt", "", "state_agency", 1, D(2025, 6, 1), EXEMPT,
     "Lực lượng vũ trang: chưa có loại đơn vị sử dụng lao động tương ứng trong dữ liệu"),
    ("union_fee_share", "grassroots", "", 7500, D(2024, 1, 1), SHARES, "CĐCS giữ 75 %"),
    ("union_fee_share", "upper_grassroots", "", 1000, D(2024, 1, 1), SHARES, ""),
    ("union_fee_share", "province", "", 1000, D(2024, 1, 1), SHARES, ""),
    ("union_fee_share", "national", "", 500, D(2024, 1, 1), SHARES, ""),
    ("dues_share", "grassroots", "", 7000, D(2024, 1, 1), SHARES, "CĐCS giữ 70 %"),
    ("dues_share", "upper_grassroots", "", 1500, D(2024, 1, 1), SHARES, ""),
    ("dues_share", "province", "", 1000, D(2024, 1, 1), SHARES, ""),
    ("dues_share", "national", "", 500, D(2024, 1, 1), SHARES, ""),
]


def seed(apps, schema_editor):
    Rule = apps.get_model("finance", "Rule")
    for kind, level, employer_type, value, valid_from, basis, note in RULES:
        Rule.objects.get_or_create(kind=kind, level=level, employer_type=employer_type, valid_from=valid_from,
                                   defaults={"value": value, "legal_basis": basis, "note": note})


class Migration(migrations.Migration):
    dependencies = [("finance", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
