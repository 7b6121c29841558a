"""No union fee and no dues in the armed forces from 01/06/2025: the same two exemption rules that
0002_seed_rules wrote for state agencies, now that ``EmployerType`` has ``armed_forces`` (0011).

The state agencies' rows said in their note that the armed forces had no employer type yet; that note
is replaced where nobody has changed it since. Going back deletes exactly the rows written here (the
same kind, type, date, value, basis and note) and puts the old note back where the new one still stands.
"""

import datetime

from django.db import migrations

FROM = datetime.date(2025, 6, 1)
KINDS = ("union_fee_exempt", "dues_exempt")
# the legal basis of the state agencies' exemptions in 0002_seed_rules, word for word
EXEMPT = ("Chủ trương dừng thu kinh phí công đoàn, đoàn phí tại cơ quan hành chính nhà nước và lực lượng vũ trang "
          "từ 01/06/2025 (theo cách chúng tôi hiểu)")
ARMED_FORCES_NOTE = "Lực lượng vũ trang; cơ quan hành chính nhà nước: quy tắc riêng (state_agency)"
STATE_AGENCY_NOTE_BEFORE = "Lực lượng vũ trang: chưa có loại đơn vị sử dụng lao động tương ứng trong dữ liệu"
STATE_AGENCY_NOTE = "Cơ quan hành chính nhà nước; lực lượng vũ trang: quy tắc riêng (armed_forces)"


def seeded(Rule):
    return Rule.objects.filter(kind__in=KINDS, level="", employer_type="armed_forces", valid_from=FROM, value=1,
                               legal_basis=EXEMPT, note=ARMED_FORCES_NOTE)


def state_agency_rows(Rule, note):
    return Rule.objects.filter(kind__in=KINDS, level="", employer_type="state_agency", valid_from=FROM, note=note)


def seed(apps, schema_editor):
    Rule = apps.get_model("finance", "Rule")
    for kind in KINDS:
        Rule.objects.get_or_create(kind=kind, level="", employer_type="armed_forces", valid_from=FROM,
                                   defaults={"value": 1, "legal_basis": EXEMPT, "note": ARMED_FORCES_NOTE})
    state_agency_rows(Rule, STATE_AGENCY_NOTE_BEFORE).update(note=STATE_AGENCY_NOTE)


def unseed(apps, schema_editor):
    Rule = apps.get_model("finance", "Rule")
    seeded(Rule).delete()
    state_agency_rows(Rule, STATE_AGENCY_NOTE).update(note=STATE_AGENCY_NOTE_BEFORE)


class Migration(migrations.Migration):
    dependencies = [("finance", "0011_employer_type_armed_forces")]
    operations = [migrations.RunPython(seed, unseed)]
