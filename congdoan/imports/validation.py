"""Checking member rows in a tight loop: the rules of members.services.validate_member, applied
to plain tuples with every lookup done in memory (units in scope and the file's own CCCDs and
codes are loaded or collected once; the database-side checks run set-wise in staging.py).

Each row gives a record for the staging table (or None when its CCCD is unusable) and any
number of errors, each pointing at a row, a column and the value.
"""

import datetime
import operator
import random
import threading

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from congdoan.core.errors import DomainError
from congdoan.core.text import clean_name, normalize_search
from congdoan.imports.columns import (
    COLUMN_BY_KEY, COLUMNS, GENDER_VALUES, HEADER_LOOKUP, IGNORED_HEADERS, REQUIRED_KEYS, column_letter,
    education_value, normalize_header,
)
from congdoan.imports.models import MAX_STORED_ERRORS
from congdoan.members.citizen_id import PROVINCE_CODES, check_citizen_id, gender_century_digit
from congdoan.members.models import Member
from congdoan.members.services import MIN_AGE
from congdoan.organizations.choices import MEMBER_LEVELS, UnitStatus
from congdoan.organizations.models import Unit

#: order of the columns of the staging table (see staging.py)
RECORD_FIELDS = [
    "row_no", "citizen_id", "code", "new_code", "full_name", "name_normalized", "date_of_birth", "gender", "ethnicity",
    "religion", "education_level", "qualification", "phone", "email", "occupation", "union_position", "joined_on", "unit_id",
]
TEXT_KEYS = ["ethnicity", "religion", "qualification", "occupation", "union_position"]  # the order check() reads them in
MAX_LENGTH = {f.name: f.max_length for f in Member._meta.get_fields() if getattr(f, "max_length", None)}
EXCEL_EPOCH = datetime.date(1899, 12, 30)
_DATE = datetime.date
_CACHE_LIMIT = 200_000
CODE_SPACE = 10_000_000_000


class ErrorLog:
    """Row errors: the first MAX_STORED_ERRORS kept, all counted."""

    def __init__(self, limit: int = MAX_STORED_ERRORS):
        self.limit, self.count, self.items = limit, 0, []
        self._lock = threading.Lock()  # rows are checked in one thread, the database checks run in another

    def add(self, row, column: str, cell: str, code: str, message, value=None):
        if value is not None and not isinstance(value, str):
            value = str(value)
        with self._lock:
            self.count += 1
            if len(self.items) < self.limit:
                self.items.append({"row": row, "column": column, "cell": cell, "code": code, "message": str(message),
                                   "value": (value or "")[:60]})

    def sorted_items(self) -> list:
        return sorted(self.items, key=lambda e: (e["row"] or 0, e["cell"] or ""))


def map_headers(headers: list[str], col_offset: int, log: ErrorLog) -> dict[str, int]:
    """{column key: index in the row} from the header cells; header problems go to ``log`` (row = header row)."""
    found: dict[str, int] = {}
    for index, text in enumerate(headers):
        norm = normalize_header(text)
        if not norm:
            continue
        letter = column_letter(col_offset + index)
        key = HEADER_LOOKUP.get(norm)
        if key is None:
            if norm not in IGNORED_HEADERS:
                log.add(None, text, letter, "header_unknown",
                        _("Unknown column “%(header)s”. Use the headers of the template.") % {"header": text}, text)
            continue
        if key in found:
            log.add(None, text, letter, "header_duplicate",
                    _("The column “%(header)s” appears twice.") % {"header": COLUMN_BY_KEY[key].header}, text)
            continue
        found[key] = index
    for key in REQUIRED_KEYS:
        if key not in found:
            header = COLUMN_BY_KEY[key].header
            log.add(None, header, "", "header_missing", _("The required column “%(header)s” is missing.") % {"header": header})
    return found


class UnitIndex:
    """The units under the scope unit, by code, loaded once: code -> (id, path, level, status)."""

    def __init__(self, scope_unit: Unit):
        self.scope_path = scope_unit.path
        self.by_code = {
            code: (pk, path, level, status)
            for pk, code, path, level, status in Unit.objects.in_subtree(scope_unit.path)
            .values_list("id", "code", "path", "level", "status").iterator(chunk_size=10_000)
        }

    def outside_codes(self, codes) -> set[str]:
        """Of ``codes`` (not found in scope), those that exist elsewhere in the tree. One query."""
        codes = list(codes)
        found = set()
        for start in range(0, len(codes), 500):
            found.update(Unit.objects.filter(code__in=codes[start:start + 500]).values_list("code", flat=True))
        return found


class RowValidator:
    """Validates rows one at a time; collects errors in ``log`` and remembers CCCDs and codes seen."""

    def __init__(self, *, columns: dict[str, int], headers: list[str], col_offset: int, units: UnitIndex,
                 log: ErrorLog, today: datetime.date | None = None, rng: random.Random | None = None,
                 code_start: int | None = None, generate_codes: bool = True):
        from django.utils import timezone

        self.columns, self.headers, self.col_offset = columns, headers, col_offset
        self.units, self.log = units, log
        self.today = today or timezone.localdate()
        self.rng = rng or random.Random()
        self.seen_cids: dict[str, int] = {}
        self.seen_codes: dict[str, int] = {}
        #: codes drawn for new members -> the row they were drawn for (None: redrawn by the database side)
        self.generated: dict[str, int | None] = {}
        #: the last row of the chunks already handed to the database side (see seal())
        self.sealed_row = 0
        self.next_code = self.code_start = code_start
        #: False while every new code is counted up above the table's highest one and no row gives a code
        #: in that range: then no drawn code can collide and the database need not be asked
        self.codes_may_collide = code_start is None
        self.generate_codes = generate_codes  # a check (preview) writes nothing and needs no new codes
        self.missing_units: dict[str, list[tuple[int, str]]] = {}  # unit code -> [(row, cell)]
        self.rows = 0
        self._dates: dict = {}
        self._names: dict = {}
        self._genders: dict = {}
        self._educations: dict = {}
        self._code_lock = threading.Lock()
        self._letters = {key: column_letter(col_offset + i) for key, i in columns.items()}
        self._header_of = {key: headers[i] for key, i in columns.items()}
        self._get = [(key, columns.get(key)) for key in (c.key for c in COLUMNS)]
        # the cells of a row in COLUMNS order, by one C-level call: a column the file lacks reads
        # the None appended to every row (index -1); a short row is padded to the widest index
        present = [i for _key, i in self._get if i is not None]
        self._width = max(present) + 1 if present else 0
        self._cells = operator.itemgetter(*(-1 if i is None else i for _key, i in self._get))
        #: every column is in the file: the row is read as it is, without the None appended for missing ones
        self._all_present = all(i is not None for _key, i in self._get)
        #: (gender, birth year) -> digits 4 to 6 a CCCD must have (the gender-century digit, the year's last two)
        self._cid_middles: dict = {}
        self._of_age: dict = {}  # date of birth -> first day he may join
        self._texts: dict[str, dict] = {key: {} for key in TEXT_KEYS}  # raw text cell -> stripped, when not too long
        self._text_caches = tuple(self._texts[key] for key in TEXT_KEYS)
        self._units: dict = {}  # raw unit cell -> (unit code, unit or None)

    # -- helpers -------------------------------------------------------------------------------
    def row_error(self, row_no, key, code, message, value=None):
        self.log.add(row_no, self._header_of.get(key, COLUMN_BY_KEY[key].header), f"{self._letters.get(key, '')}{row_no}",
                     code, message, value)

    def _date(self, value):
        """A date, None when empty; raises ValueError when it is not a date."""
        kind = type(value)
        if kind is datetime.date:
            return value
        if kind is datetime.datetime:
            return value.date()
        if value is None or value == "":
            return None
        cached = self._dates.get(value)
        if cached is not None:
            return cached
        if kind is str:
            result = parse_date_text(value)
        elif kind in (int, float) and 1 <= value < 2_958_466:  # an Excel serial day number
            result = EXCEL_EPOCH + datetime.timedelta(days=int(value))
        else:
            raise ValueError(value)
        if result is not None and len(self._dates) < _CACHE_LIMIT:
            self._dates[value] = result
        return result

    def _name(self, value: str):
        cached = self._names.get(value)
        if cached is None:
            full = clean_name(value)
            cached = (full, normalize_search(full))
            if len(self._names) < _CACHE_LIMIT:
                self._names[value] = cached
        return cached

    def seal(self, last_row: int):
        """The rows up to ``last_row`` go to the database now: their generated codes can no longer be redrawn."""
        self.sealed_row = last_row

    def new_code(self, row_no: int | None = None) -> str:
        """A member code in the format of members.services.generate_member_code ('DV' and 10 digits).

        Counting up from ``code_start`` (above the highest such code in the table) when there is room:
        consecutive codes are appended at the end of the code index instead of landing at random
        places in it, which matters at a million rows. Otherwise random. Never one already in the file.
        """
        with self._code_lock:  # the reading thread and the database side (redrawing codes) both draw
            return self._draw_code(row_no)

    def _draw_code(self, row_no) -> str:
        while True:
            if self.next_code is not None and self.next_code < CODE_SPACE:
                number = self.next_code
                self.next_code += 1
            else:
                number = self.rng.randrange(CODE_SPACE)
                # a random code may be a member's: from now on the database side looks (Staging.fix_generated_codes)
                self.codes_may_collide = True
            code = "DV%010d" % number
            if code not in self.generated and code not in self.seen_codes:
                self.generated[code] = row_no
                return code

    # -- the row -------------------------------------------------------------------------------
    def check(self, row_no: int, cells: list):
        """Validate one row; return the staging record or None (CCCD unusable or repeated).

        A million rows pass through here: the common case (text cells, date cells, valid values,
        many repeated) runs inline with caches, anything else goes through the same helpers and
        gives the same errors as a row-by-row validate_member.
        """
        self.rows += 1
        width = len(cells)
        if width < self._width:
            cells = [*cells, *([None] * (self._width - width))]
        (v_name, v_dob, v_gender, v_cid, v_ethnicity, v_religion, v_education, v_qualification, v_phone, v_email,
         v_occupation, v_position, v_joined, v_unit, v_code) = self._cells(cells if self._all_present else [*cells, None])
        errors_before = self.log.count
        error = self.row_error

        # full name (required, as validate_member)
        name_value = v_name.strip() if type(v_name) is str else text(v_name)
        full_name = name_normalized = ""
        if not name_value:
            error(row_no, "full_name", "required", _("The full name is required."))
        else:
            names = self._names.get(name_value)
            full_name, name_normalized = names if names is not None else self._name(name_value)
            if len(full_name) > MAX_LENGTH["full_name"]:
                self._too_long(row_no, "full_name", full_name)

        # dates
        # a date cell, or a date written as text and already met (CSV files, text cells): from the cache
        dob = v_dob if type(v_dob) is _DATE else (self._dates.get(v_dob) or self._required_date(row_no, "date_of_birth", v_dob))
        joined = v_joined if type(v_joined) is _DATE else (
            self._dates.get(v_joined) or self._required_date(row_no, "joined_on", v_joined))
        today = self.today
        if dob is not None and dob > today:
            error(row_no, "date_of_birth", "future_date", _("The date of birth cannot be in the future."), dob.strftime("%d/%m/%Y"))
            dob_ok = False
        else:
            dob_ok = dob is not None
        if joined is not None and joined > today:
            error(row_no, "joined_on", "future_date", _("The date of joining cannot be in the future."), joined.strftime("%d/%m/%Y"))
        elif dob_ok and joined is not None:
            if joined < (self._of_age.get(dob) or self._of_age_on(dob)):
                error(row_no, "joined_on", "too_young",
                      _("A member must be at least %(age)s years old when joining.") % {"age": MIN_AGE}, joined.strftime("%d/%m/%Y"))

        # gender
        gender_value = v_gender.strip() if type(v_gender) is str else text(v_gender)
        gender = self._genders.get(gender_value)
        if gender is None:
            gender = GENDER_VALUES.get(normalize_search(gender_value))
            if gender is not None:
                self._genders[gender_value] = gender
        if gender is None:
            if gender_value:
                error(row_no, "gender", "invalid_gender", _("Write “Nam” or “Nữ” (got “%(value)s”).") % {"value": gender_value}, gender_value)
            else:
                error(row_no, "gender", "required", _("The gender is required."))

        # citizen ID: the structure rules of members.citizen_id, with gender and birth year when both are known
        cid_value = v_cid.strip().replace(".", "") if type(v_cid) is str else citizen_id_text(v_cid)
        citizen_id = None
        if not cid_value:
            error(row_no, "citizen_id", "required", _("The citizen ID (CCCD) is required."))
        elif len(cid_value) == 12 and cid_value.isascii() and cid_value.isdigit() and cid_value[:3] in PROVINCE_CODES and (
                gender is None or not dob_ok or cid_value[3:6] == (
                    self._cid_middles.get((gender, dob.year)) or self._cid_middle(gender, dob.year))):
            citizen_id = cid_value  # what check_citizen_id returns for a valid CCCD, without its call
        else:
            try:
                if gender is not None and dob_ok:
                    citizen_id = check_citizen_id(cid_value, gender=gender, date_of_birth=dob)
                else:
                    citizen_id = check_citizen_id(cid_value)
            except DomainError as exc:
                error(row_no, "citizen_id", exc.code, exc.message, cid_value)
                if exc.code in ("citizen_id_gender_century", "citizen_id_birth_year"):
                    citizen_id = cid_value.strip().replace(" ", "")  # well-formed: still checked against the database
        if citizen_id is not None:
            first = self.seen_cids.get(citizen_id)
            if first is not None:
                error(row_no, "citizen_id", "duplicate_in_file",
                      _("The citizen ID %(cid)s already appears in row %(row)s.") % {"cid": citizen_id, "row": first}, citizen_id)
                citizen_id = None
            else:
                self.seen_cids[citizen_id] = row_no

        # free text (the same few values on most rows)
        # (the caches hold text cells only: a cell of another type is never found there)
        t_ethnicity, t_religion, t_qualification, t_occupation, t_position = self._text_caches
        ethnicity = t_ethnicity.get(v_ethnicity)
        if ethnicity is None:
            ethnicity = self._free_text(row_no, "ethnicity", v_ethnicity)
        religion = t_religion.get(v_religion)
        if religion is None:
            religion = self._free_text(row_no, "religion", v_religion)
        qualification = t_qualification.get(v_qualification)
        if qualification is None:
            qualification = self._free_text(row_no, "qualification", v_qualification)
        occupation = t_occupation.get(v_occupation)
        if occupation is None:
            occupation = self._free_text(row_no, "occupation", v_occupation)
        position = t_position.get(v_position)
        if position is None:
            position = self._free_text(row_no, "union_position", v_position)

        education_raw = v_education.strip() if type(v_education) is str else text(v_education)
        education = ""
        if education_raw:
            education = self._educations.get(education_raw)
            if education is None:
                education = education_value(education_raw)
                if education is not None and len(self._educations) < 1000:
                    self._educations[education_raw] = education
            if education is None:
                error(row_no, "education_level", "invalid_choice",
                      _("“%(value)s” is not a known education level.") % {"value": education_raw}, education_raw)
                education = ""

        if type(v_phone) is str and v_phone.isdigit() and v_phone[:2] != "84":
            phone = v_phone  # what phone_text gives for plain digits
        else:
            phone = phone_text(v_phone)
        if len(phone) > MAX_LENGTH["phone"]:
            self._too_long(row_no, "phone", phone)

        email = v_email.strip() if type(v_email) is str else text(v_email)
        if email:
            try:
                validate_email(email)
            except ValidationError:
                error(row_no, "email", "invalid_email", _("Enter a valid email address."), email)
            if len(email) > MAX_LENGTH["email"]:
                self._too_long(row_no, "email", email)

        # member code: optional; repeated codes inside the file are errors
        code = (v_code.strip() if type(v_code) is str else text(v_code)).upper()
        if code:
            if len(code) > MAX_LENGTH["code"]:
                self._too_long(row_no, "code", code)
            with self._code_lock:  # the database side may be drawing a code meanwhile (Staging.fix_generated_codes)
                code = self._explicit_code(row_no, code)

        # unit: in the scope unit's subtree, active, at a level that holds members
        found = self._units.get(v_unit) if type(v_unit) is str else None
        if found is None:
            unit_code = text(v_unit).upper()
            found = (unit_code, self.units.by_code.get(unit_code))
            if type(v_unit) is str and len(self._units) < _CACHE_LIMIT:
                self._units[v_unit] = found
        unit_code, unit = found
        unit_id = None
        if not unit_code:
            error(row_no, "unit_code", "required", _("The unit code is required."))
        elif unit is None:
            self.missing_units.setdefault(unit_code, []).append((row_no, f"{self._letters.get('unit_code', '')}{row_no}"))
        elif unit[3] != UnitStatus.ACTIVE:
            error(row_no, "unit_code", "unit_inactive",
                  _("The unit %(unit)s is dissolved or merged; choose an active unit.") % {"unit": unit_code}, unit_code)
        elif unit[2] not in MEMBER_LEVELS:
            error(row_no, "unit_code", "unit_level",
                  _("Members are registered in a grassroots union, sub-union or union group, not in %(unit)s.") % {"unit": unit_code},
                  unit_code)
        else:
            unit_id = unit[0]

        if citizen_id is None:
            return None
        if self.log.count != errors_before:
            # the row is staged for the database checks only; with any error nothing is written
            return (row_no, citizen_id, code, "", full_name, name_normalized, dob, gender or "", ethnicity,
                    religion, education, qualification, phone, email, occupation, position, joined, unit_id)
        if code or not self.generate_codes:
            new_code = ""
        elif not self.codes_may_collide and (number := self.next_code) is not None and number < CODE_SPACE:
            # counted up with no code in the file in that range (the common case): the code is free, and the
            # database side draws none meanwhile (it redraws only when codes may collide)
            new_code = "DV%010d" % number
            self.next_code = number + 1
            self.generated[new_code] = row_no
        else:
            new_code = self.new_code(row_no)
        return (row_no, citizen_id, code, new_code, full_name,
                name_normalized, dob, gender, ethnicity, religion, education, qualification, phone, email,
                occupation, position, joined, unit_id)

    def _explicit_code(self, row_no: int, code: str) -> str:
        """A member code written in the file: remembered, or refused (then "") when the file or this import used it."""
        first = self.seen_codes.get(code)
        if first is not None:
            self.row_error(row_no, "code", "duplicate_code", _("The member code %(code)s already appears in row %(row)s.")
                           % {"code": code, "row": first}, code)
            return ""  # reported once: the database check must not report it again
        drawn_for = self.generated.get(code, 0)
        if drawn_for is None or 0 < drawn_for <= self.sealed_row:
            # the code this import gave a new member of an earlier chunk, already sent to the database (one of
            # the current chunk is drawn again instead: Staging.fix_generated_codes)
            self.row_error(row_no, "code", "duplicate_code", _("The member code %(code)s is already used.") % {"code": code},
                           code)
            return ""
        self.seen_codes[code] = row_no
        if self.code_start is not None and code[:2] == "DV" and code[2:].isdigit() and int(code[2:]) >= self.code_start:
            self.codes_may_collide = True  # an explicit code in the range being counted up
        return code

    def _free_text(self, row_no, key, value) -> str:
        """A free-text cell: stripped, at most the field's length (else an error); remembered when valid."""
        cleaned = text(value)
        if len(cleaned) > MAX_LENGTH[key]:
            self._too_long(row_no, key, cleaned)
        elif type(value) is str:
            cache = self._texts[key]
            if len(cache) < _CACHE_LIMIT:
                cache[value] = cleaned
        return cleaned

    def _of_age_on(self, dob: datetime.date) -> datetime.date:
        """The first day a member born on ``dob`` may join: his MIN_AGE-th birthday (1 March for 29 February
        in a common year), as members.services counts age: year difference, less one before the birthday."""
        year = dob.year + MIN_AGE
        try:
            day = dob.replace(year=year)
        except ValueError:  # 29 February
            day = datetime.date(year, 3, 1)
        except OverflowError:
            day = datetime.date.max
        if len(self._of_age) < _CACHE_LIMIT:
            self._of_age[dob] = day
        return day

    def _cid_middle(self, gender: str, year: int) -> str:
        middle = self._cid_middles[(gender, year)] = f"{gender_century_digit(gender, year)}{year % 100:02d}"
        return middle

    def _required_date(self, row_no, key, value):
        try:
            result = self._date(value)
        except (ValueError, OverflowError):
            shown = text(value)
            self.row_error(row_no, key, "invalid_date",
                        _("“%(value)s” is not a date; write it as dd/mm/yyyy.") % {"value": shown}, shown)
            return None
        if result is None:
            self.row_error(row_no, key, "required", _("%(column)s is required.") % {"column": COLUMN_BY_KEY[key].header})
        return result

    def _too_long(self, row_no, key, value):
        self.row_error(row_no, key, "too_long", _("At most %(max)s characters (got %(length)s).")
                    % {"max": MAX_LENGTH[key], "length": len(value)}, value)

    def finish(self):
        """Unit codes not found in scope: unknown, or existing outside the importer's subtree (one query)."""
        if not self.missing_units:
            return
        outside = self.units.outside_codes(self.missing_units)
        for unit_code, places in self.missing_units.items():
            for row_no, cell in places:
                if unit_code in outside:
                    self.log.add(row_no, self._header_of.get("unit_code", ""), cell, "unit_out_of_scope",
                                 _("The unit %(code)s is outside the units you manage.") % {"code": unit_code}, unit_code)
                else:
                    self.log.add(row_no, self._header_of.get("unit_code", ""), cell, "unit_not_found",
                                 _("No unit has the code “%(code)s”.") % {"code": unit_code}, unit_code)
        self.missing_units = {}


def text(value) -> str:
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return value.strip()
    if kind is float and value.is_integer():
        return str(int(value))
    if kind is datetime.datetime or kind is datetime.date:
        return value.strftime("%d/%m/%Y")
    return str(value).strip()


def citizen_id_text(value) -> str:
    """A CCCD typed as a number loses its leading zeros in Excel: give them back (12 digits)."""
    if type(value) in (int, float) and value == value and 0 < value < 10**12 and float(value).is_integer():
        return "%012d" % int(value)
    return text(value).replace(".", "")


def phone_text(value) -> str:
    """Spaces, dots and dashes dropped; +84 written as 0; a number that lost its leading 0 gets it back."""
    if type(value) in (int, float) and value == value and float(value).is_integer():
        digits = str(int(value))
        return "0" + digits if len(digits) == 9 else digits
    value = text(value)
    if not value:
        return ""
    for ch in " .-()":
        value = value.replace(ch, "")
    if value.startswith("+84"):
        value = "0" + value[3:]
    elif value.startswith("84") and len(value) == 11:
        value = "0" + value[2:]
    return value


def parse_date_text(value: str) -> datetime.date:
    """dd/mm/yyyy (also with - or . and one-digit day or month), or yyyy-mm-dd (with an optional time)."""
    value = value.strip()
    if len(value) == 10 and value[2] == "/" and value[5] == "/":
        return datetime.date(int(value[6:]), int(value[3:5]), int(value[:2]))
    head = value.split(" ")[0].split("T")[0]
    for sep in ("/", "-", "."):
        parts = head.split(sep)
        if len(parts) == 3:
            break
    else:
        raise ValueError(value)
    if not all(p.isdigit() for p in parts):
        raise ValueError(value)
    if len(parts[0]) == 4:
        year, month, day = parts
    elif len(parts[2]) == 4:
        day, month, year = parts
    else:
        raise ValueError(value)  # a two-digit year is ambiguous
    return datetime.date(int(year), int(month), int(day))


def sequential_code_start(expected_rows: int) -> int | None:
    """The number after the highest 'DV' + 10-digit member code, when the import's new codes fit above it."""
    candidates = (Member.objects.filter(code__gte="DV0000000000", code__lte="DV9999999999")
                  .order_by("-code").values_list("code", flat=True)[:50])
    highest = -1
    for code in candidates:
        if len(code) == 12 and code[2:].isdigit():
            highest = int(code[2:])
            break
    else:
        if candidates:
            return None  # unusual codes at the top of the range: draw random ones
    start = highest + 1
    return start if start + 2 * max(expected_rows, 1) < CODE_SPACE else None
