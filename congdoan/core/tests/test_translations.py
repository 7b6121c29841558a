"""The Vietnamese catalogue is complete, keeps every placeholder, uses the union's terms, and is served.

Vietnamese is the default language; the source strings are English. A missing or fuzzy entry shows
English to Vietnamese officials, a lost placeholder crashes the page (``KeyError`` in ``%``), so these
are checked on the catalogue itself, with a small .po reader (no new dependency).
"""

import gettext
import re
from collections import Counter
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.urls import reverse

LOCALE = settings.BASE_DIR / "congdoan" / "locale"
VI_PO = LOCALE / "vi" / "LC_MESSAGES" / "django.po"
VI_MO = LOCALE / "vi" / "LC_MESSAGES" / "django.mo"
EN_PO = LOCALE / "en" / "LC_MESSAGES" / "django.po"

#: %(name)s, %s, %d ... (python-format, also what {% blocktranslate %} produces) and HTML tags
PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[#0+-]*\d*(?:\.\d+)?[sdiferxXcg]|<[^<>]+>")


@dataclass
class Entry:
    """One message of a .po file: msgid (and plural), msgstr forms, flags, line number."""

    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0


QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _unquote(text: str) -> str:
    """The value of one or more adjacent C strings: ``"a\\n" "b"`` → ``a⏎b``."""
    body = text.strip()
    parts = QUOTED.findall(body)
    assert parts and QUOTED.sub("", body).strip() == "", body
    return "".join(re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(0)), part) for part in parts)


def parse_po(path) -> tuple[dict[str, str], list[Entry]]:
    """Read a .po file: its header fields and its entries (obsolete ``#~`` entries left out)."""
    entries, current, target = [], Entry(), None

    def flush():
        nonlocal current
        if current.msgstr or current.msgid:
            entries.append(current)
        current = Entry()

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#,"):
            if current.msgstr:
                flush()
            current.flags |= {f.strip() for f in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if keyword.startswith('"'):  # continuation of the previous string
            assert target is not None, f"{path}:{number}: stray string"
            kind, index = target
            if kind == "msgstr":
                current.msgstr[index] += _unquote(line)
            else:
                setattr(current, kind, getattr(current, kind) + _unquote(line))
            continue
        if keyword in ("msgctxt", "msgid") and current.msgstr:
            flush()
        if keyword in ("msgctxt", "msgid", "msgid_plural"):
            if not current.line:
                current.line = number
            setattr(current, keyword, _unquote(rest))
            target = (keyword, 0)
        elif keyword == "msgstr" or keyword.startswith("msgstr["):
            index = int(keyword[7:-1]) if "[" in keyword else 0
            current.msgstr[index] = _unquote(rest)
            target = ("msgstr", index)
        else:
            raise AssertionError(f"{path}:{number}: cannot read {raw!r}")
    flush()
    header = entries.pop(0) if entries and entries[0].msgid == "" else Entry()
    fields = dict(line.split(": ", 1) for line in header.msgstr.get(0, "").splitlines() if ": " in line)
    fields["#fuzzy"] = "fuzzy" in header.flags
    return fields, entries


def placeholders(text: str) -> Counter:
    return Counter(PLACEHOLDER.findall(text.replace("%%", "")))


def where(entry: Entry) -> str:
    return f"{VI_PO.name}:{entry.line} {entry.msgid!r}"


@pytest.fixture(scope="module")
def vi():
    return parse_po(VI_PO)


def test_the_parser_reads_plurals_continuations_and_escapes(tmp_path):
    po = tmp_path / "x.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: vi\\n"\n"Plural-Forms: nplurals=1; plural=0;\\n"\n\n'
        '#, python-format\nmsgid "%(n)s row"\nmsgid_plural "%(n)s rows"\nmsgstr[0] "%(n)s dòng"\n\n'
        'msgid ""\n"Say \\"hi\\"\\n"\n"twice"\nmsgstr "Nói \\"chào\\"\\n" "hai lần"\n\n'
        '#~ msgid "old"\n#~ msgstr "cũ"\n',
        encoding="utf-8",
    )
    header, entries = parse_po(po)
    assert header["Language"] == "vi" and header["#fuzzy"] is False
    assert [(e.msgid, e.msgid_plural, e.msgstr, e.flags) for e in entries] == [
        ("%(n)s row", "%(n)s rows", {0: "%(n)s dòng"}, {"python-format"}),
        ('Say "hi"\ntwice', None, {0: 'Nói "chào"\nhai lần'}, set()),
    ]


def test_vietnamese_catalogue_header(vi):
    header, entries = vi
    assert header["Language"] == "vi"
    assert header["Plural-Forms"] == "nplurals=1; plural=0;"
    assert header["Content-Type"] == "text/plain; charset=UTF-8"
    assert header["#fuzzy"] is False
    assert len(entries) > 500


def test_every_vietnamese_entry_is_translated_and_not_fuzzy(vi):
    _, entries = vi
    empty = [where(e) for e in entries if not all(s.strip() for s in e.msgstr.values()) or not e.msgstr]
    fuzzy = [where(e) for e in entries if "fuzzy" in e.flags]
    wrong_forms = [where(e) for e in entries if e.msgid_plural is not None and set(e.msgstr) != {0}]
    assert not empty, f"untranslated: {empty}"
    assert not fuzzy, f"fuzzy: {fuzzy}"
    assert not wrong_forms, f"Vietnamese has one plural form (msgstr[0] only): {wrong_forms}"


def test_every_translation_keeps_the_placeholders_and_tags_of_its_source(vi):
    _, entries = vi
    wrong = []
    for e in entries:
        # Vietnamese has one form: it must carry what the English plural carries (e.g. %(counter)s).
        source = placeholders(e.msgid_plural if e.msgid_plural is not None else e.msgid)
        for translation in e.msgstr.values():
            if placeholders(translation) != source:
                wrong.append(f"{where(e)}: {dict(source)} ≠ {dict(placeholders(translation))}")
    assert not wrong, "\n".join(wrong)


def test_the_compiled_catalogue_matches_the_po_file(vi):
    """``compilemessages`` was run after the last edit: the .mo holds exactly what the .po says."""
    _, entries = vi
    with VI_MO.open("rb") as handle:
        catalog = gettext.GNUTranslations(handle)._catalog
    stale = []
    for e in entries:
        key_base = f"{e.msgctxt}\x04{e.msgid}" if e.msgctxt else e.msgid
        if e.msgid_plural is None:
            if catalog.get(key_base) != e.msgstr[0]:
                stale.append(where(e))
        elif catalog.get((key_base, 0)) != e.msgstr[0]:
            stale.append(where(e))
    assert not stale, f"run `make messages` (compilemessages): {stale[:20]}"


#: English word (regular expression) → what the Vietnamese translation must then contain (any of)
GLOSSARY = {
    r"(?<!-)\bgrassroots unions?\b": ("công đoàn cơ sở",),
    r"\bupper-grassroots union\b": ("công đoàn cấp trên trực tiếp cơ sở",),
    r"\bsub-unions?\b": ("công đoàn bộ phận",),
    r"\bunion groups?\b": ("tổ công đoàn",),
    r"\bnational federation\b": ("tổng liên đoàn lao động việt nam",),
    r"\bcitizen id\b": ("cccd", "căn cước"),
    r"\bmember codes?\b": ("mã đoàn viên",),
    r"\bdues\b": ("đoàn phí",),
    r"\bunion fee\b": ("kinh phí công đoàn",),
    r"\barrears\b": ("nợ đọng",),
    r"\btax code\b": ("mã số thuế",),
    r"\bpayment reference\b": ("mã thanh toán",),
    r"\bbank statements?\b": ("sao kê",),
    r"\breconciliation\b": ("đối soát",),
    r"\btwo-step login\b": ("đăng nhập hai bước",),
    r"\baudit log\b": ("nhật ký thay đổi",),
    r"\bdissolved?\b": ("giải thể",),
    r"\bemployers?\b": ("đơn vị sử dụng lao động",),
    r"\bcash receipts?\b": ("phiếu thu",),
    r"\bvice chair\b": ("phó chủ tịch",),
    r"\baccountants?\b": ("kế toán",),
}


def test_the_unions_terms_are_translated_the_same_way_everywhere(vi):
    _, entries = vi
    wrong = []
    for e in entries:
        source = e.msgid.casefold()
        for pattern, wanted in GLOSSARY.items():
            if re.search(pattern, source):
                for translation in e.msgstr.values():
                    if not any(w in translation.casefold() for w in wanted):
                        wrong.append(f"{where(e)}: needs {wanted[0]!r}: {translation!r}")
    assert not wrong, "\n".join(wrong)


def test_english_catalogue_leaves_the_source_strings_as_they_are():
    header, entries = parse_po(EN_PO)
    assert header["Language"] == "en"
    assert entries and all(not any(e.msgstr.values()) for e in entries)


# --- served pages ---------------------------------------------------------------------------------


def html_lang(content: str) -> str:
    return re.search(r'<html lang="([^"]+)"', content).group(1)


def test_login_page_is_vietnamese_by_default(client, db):
    content = client.get(reverse("accounts:login")).content.decode()
    assert html_lang(content) == "vi"
    assert "Đăng nhập" in content and "Mật khẩu" in content and "Tên đăng nhập hoặc mã đoàn viên" in content
    assert "Log in" not in content and "Password" not in content


def test_set_language_switches_the_login_page_to_english_and_back(client, db):
    login = reverse("accounts:login")
    response = client.post(reverse("set_language"), {"language": "en", "next": login})
    assert response.status_code == 302
    content = client.get(login).content.decode()
    assert html_lang(content) == "en"
    assert "Log in" in content and "Password" in content and "Đăng nhập" not in content

    client.post(reverse("set_language"), {"language": "vi", "next": login})
    content = client.get(login).content.decode()
    assert html_lang(content) == "vi" and "Đăng nhập" in content


def test_pages_and_messages_of_a_signed_in_official_are_vietnamese(personas, login):
    client = login(personas.users["province_a_chair"])
    content = client.get(reverse("members:member_list")).content.decode()
    assert html_lang(content) == "vi"
    for words in ("Đoàn viên", "Đơn vị", "Đăng xuất", "Tìm kiếm"):
        assert words in content
    content = client.get(reverse("organizations:unit_detail", args=[personas.grassroots_a.pk])).content.decode()
    assert "Công đoàn cơ sở" in content and "Đơn vị trực thuộc" in content
