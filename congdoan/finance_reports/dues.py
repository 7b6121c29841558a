"""Dues owed by the members of a subtree for a period, summed per grassroots union, at province scale.

Finance's ``member_dues_owed`` computes each member's dues month by month in Python: the reference,
but 32 s for a province of 100,000 members over a year. The figures here are the same (finance's
rules: ``RuleBook.dues_terms``, ``rules.member_dues``, the union's own rate, exempt employer types,
members' exemptions), summed by the database in one statement that reads the members once, whatever
their number; the rules are read once and travel in the statement as small ``VALUES`` lists:

* a member with no salary and no exemption recorded owes the floor of each month from the one he
  joined in (nothing where his employer type is exempt): such members are only counted, per unit
  and first month owed, and each count is multiplied by the sum of those floors;
* a member with one salary, in force before the period and unchanged through it, no exemption, in
  a union without its own rate (``steady``) owes what the month's terms make of that salary: he is
  joined once to each set of months sharing the same terms, times the number of those months;
* the others (a salary changing during the period, an exemption, a union's own rate) are expanded
  to member-months, with the salary, the own rate and the exemptions in force as joins;

``member_dues``' arithmetic (the rate of the salary rounded halves up, raised to the floor, lowered
to the cap, plus the own rate's extra, uncapped) is one SQL expression. A member's grassroots union
(whose books his dues go to) is his unit, its parent or its grandparent, whichever is at grassroots
level (sub-unions and union groups sit below it).

Tests check that the sums equal finance's ``member_dues_owed`` on random data (salaries changing
during or before the period, a salary of 0, exemptions open-ended or not and overlapping, a union's
own rate, an exempt employer type, members joining during the period, inactive members, members of
sub-unions and union groups, the cap).
"""

import datetime

from django.db import connection, transaction

from congdoan.core import paths as tree
from congdoan.finance.choices import Source
from congdoan.finance.money import add_months, month_end, months_between
from congdoan.finance.rules import RuleBook, member_dues
from congdoan.members.choices import MemberStatus
from congdoan.organizations.choices import Level

GRASSROOTS = Level.GRASSROOTS.value


def dues_owed_by_book(*, members, root_path: str, start: datetime.date, end: datetime.date,
                      grassroots_paths: dict[str, int]) -> dict[int, int]:
    """{grassroots union id: dues owed by its active members for the months start..end}.

    ``members``: the (scoped) Member queryset of the subtree; ``grassroots_paths``: {path: id} of the
    subtree's grassroots unions (the only ones counted). The statement reads each union's employer
    type (exempt or not) with the union. Two queries (the rules, then one statement) whatever the size
    of the subtree.
    """
    months = months_between(start, end)
    rules = RuleBook()
    terms = {m: rules.dues_terms(m) for m in months}
    if all(t is None for t in terms.values()):
        return {}
    wanted = set(grassroots_paths.values())
    active = members.filter(status=MemberStatus.ACTIVE, joined_on__lte=month_end(end)).order_by().values("id", "unit_id", "joined_on")
    return {book: amount for book, amount in _sums(active, root_path, months, terms, rules) if book in wanted and amount}


def _sums(active, root_path: str, months: list[datetime.date], terms: dict, rules: RuleBook) -> list[tuple]:
    """Rows (grassroots union id, dues owed by its members).

    One pass over the members counts the plain ones (no salary, no exemption) per unit and first
    month owed: each owes the floor of every month from that one on, unless his employer type is
    exempt (``tails``: those sums per first month, and per exempt employer type). It picks out the
    others (``special``). Most of those have one salary, in force before the period and unchanged
    through it, no exemption, and a union without its own rate (``steady``): what they owe a month
    depends only on the month's terms, so each is joined once to each set of months sharing the same
    terms and exempt employer types, times the number of those months he owes. The others are summed
    month by month: ``member_dues``' arithmetic with the salary, the union's own rate and the
    exemptions in force that month.
    """
    start, end = months[0], months[-1]
    path_end = tree.successor(root_path) or "~"
    active_sql, active_params = active.query.sql_with_params()
    exempt_types = {m: sorted(rules.exempt_types(Source.DUES, m)) for m in months if terms[m] is not None}
    month_rows, params = [], []
    for m in exempt_types:
        t = terms[m]
        month_rows.append("(%s, %s, CAST(%s AS bigint), CAST(%s AS bigint), CAST(%s AS bigint))")
        params += [m, add_months(m, 1), t.rate_bp, t.floor, t.cap]
    exempt = [(m, etype) for m, types in exempt_types.items() for etype in types]
    for m, etype in exempt:
        params += [m, etype]
    # the months grouped by their terms and exempt employer types; per first month owed ``k``, how many of each
    groups: dict[tuple, int] = {}
    group_of = {i: groups.setdefault((terms[m].rate_bp, terms[m].floor, terms[m].cap, tuple(exempt_types[m])), len(groups))
                for i, m in enumerate(months) if terms[m] is not None}
    term_rows = []
    for k in range(len(months)):
        for (rate, floor, cap, _types), group in groups.items():
            n = sum(1 for i, g in group_of.items() if g == group and i >= k)
            if n:
                term_rows.append("(%s, %s, %s, CAST(%s AS bigint), CAST(%s AS bigint), CAST(%s AS bigint))")
                params += [k, group, n, rate, floor, cap]
    group_exempt = [(group, etype) for (*_terms, types), group in groups.items() for etype in types]
    for group, etype in group_exempt:
        params += [group, etype]
    # what a plain member owes from his first month owed ``k`` on: in general, and for each employer type exempt some month
    floors = {i: member_dues(terms[m], 0, 0)[0] for i, m in enumerate(months) if terms[m] is not None}
    types = sorted({etype for found in exempt_types.values() for etype in found})
    tail_rows = []
    for k in range(len(months)):
        for etype in ["", *types]:
            tail_rows.append("(%s, %s, CAST(%s AS bigint))")
            params += [k, etype, sum(floor for i, floor in floors.items() if i >= k and etype not in exempt_types[months[i]])]
    # the index in ``months`` of a member's first month owed (0: he joined before the period)
    first = " ".join(f"WHEN m.joined_on < %s THEN {i}" for i in range(len(months) - 1))
    first = f"CASE {first} ELSE {len(months) - 1} END" if first else "0"
    params += [add_months(m, 1) for m in months[:-1]]
    params += [end, end, *active_params, end, end, root_path, path_end, start, end, end]

    def book_of(unit: str, attribute: str = "id") -> str:
        """The member's grassroots union (or its ``attribute``): his unit, its parent or its grandparent."""
        return (f"CASE WHEN {unit}.level = '{GRASSROOTS}' THEN {unit}.{attribute} WHEN p.level = '{GRASSROOTS}' THEN p.{attribute} "
                f"WHEN g.level = '{GRASSROOTS}' THEN g.{attribute} END")

    def units(alias: str) -> str:
        """Joins the unit of the rows of ``alias`` (u), its parent (p) and grandparent (g)."""
        return (f"JOIN organizations_unit u ON u.id = {alias}.unit_id LEFT JOIN organizations_unit p ON p.id = u.parent_id "
                "LEFT JOIN organizations_unit g ON g.id = p.parent_id")

    def standard(salary: str, terms: str) -> str:
        """``member_dues``' standard part: the rate of the salary rounded halves up, raised to the floor, lowered to the cap."""
        by_rate = f"(COALESCE({salary}, 0) * {terms}.rate + 5000) / 10000"
        raised = f"CASE WHEN {by_rate} < {terms}.floor THEN {terms}.floor ELSE {by_rate} END"
        return f"CASE WHEN {terms}.cap IS NOT NULL AND {raised} > {terms}.cap THEN {terms}.cap ELSE {raised} END"

    sql = f"""
        WITH months (month, next, rate, floor, cap) AS (VALUES {", ".join(month_rows)}),
        exempt (month, employer_type) AS (VALUES {", ".join(["(%s, %s)"] * len(exempt)) if exempt
                                                  else "(CAST(NULL AS date), CAST(NULL AS varchar(20)))"}),
        terms (k, grp, n, rate, floor, cap) AS (VALUES {", ".join(term_rows)}),
        terms_exempt (grp, employer_type) AS (VALUES {", ".join(["(%s, %s)"] * len(group_exempt)) if group_exempt
                                                      else "(CAST(NULL AS integer), CAST(NULL AS varchar(20)))"}),
        tails (k, employer_type, amount) AS (VALUES {", ".join(tail_rows)}),
        grouped AS (
            -- one pass over the members: those without salary or exemption counted per unit and first month
            -- owed, each of the others a group of his own (``special`` is his id)
            SELECT m.unit_id, {first} AS k,
                   CASE WHEN EXISTS (SELECT 1 FROM finance_membersalary s WHERE s.member_id = m.id AND s.valid_from <= %s)
                          OR EXISTS (SELECT 1 FROM finance_duesexemption e WHERE e.member_id = m.id AND e.first_month <= %s)
                        THEN m.id ELSE 0 END AS special,
                   MIN(m.joined_on) AS joined_on, COUNT(*) AS n
            FROM ({active_sql}) m
            GROUP BY 1, 2, 3
        ),
        special AS (
            SELECT b.special AS id, b.k, b.joined_on, {book_of("u")} AS book, {book_of("u", "employer_type")} AS employer_type
            FROM grouped b {units("b")}
            WHERE b.special <> 0
        ),
        salaries AS (
            SELECT s.member_id, s.valid_from, s.salary,
                   LEAD(s.valid_from) OVER (PARTITION BY s.member_id ORDER BY s.valid_from) AS until
            FROM finance_membersalary s JOIN special sp ON sp.id = s.member_id WHERE s.valid_from <= %s
        ),
        exemptions AS (
            SELECT e.member_id, e.first_month, e.last_month
            FROM finance_duesexemption e JOIN special sp ON sp.id = e.member_id WHERE e.first_month <= %s
        ),
        own AS (
            SELECT r.unit_id, r.rate_bp, r.valid_from,
                   LEAD(r.valid_from) OVER (PARTITION BY r.unit_id ORDER BY r.valid_from) AS until
            FROM finance_unitduesrate r JOIN organizations_unit ru ON ru.id = r.unit_id
            WHERE ru.path >= %s AND ru.path < %s
        ),
        steady AS (
            -- the salary in force at the start of the period is the next one's only after its end
            SELECT sp.id, sp.k, sp.book, sp.employer_type, s.salary
            FROM special sp JOIN salaries s ON s.member_id = sp.id AND s.valid_from <= %s AND (s.until IS NULL OR s.until > %s)
            WHERE sp.id NOT IN (SELECT member_id FROM exemptions)
              AND sp.book NOT IN (SELECT unit_id FROM own WHERE valid_from <= %s)
        )
        SELECT o.book, CAST(SUM(o.amount) AS bigint) FROM (
        -- no WHERE on ``special`` (a special member adds 0 here): the planner cannot guess how many
        -- rows such a filter keeps, and guessing few it would look every unit up one by one
        SELECT {book_of("u")} AS book, CASE WHEN c.special = 0 THEN c.n * COALESCE(te.amount, td.amount) ELSE 0 END AS amount
        FROM grouped c {units("c")}
        JOIN tails td ON td.k = c.k AND td.employer_type = ''
        LEFT JOIN tails te ON te.k = c.k AND te.employer_type = {book_of("u", "employer_type")} AND te.employer_type <> ''
        UNION ALL
        SELECT st.book, CASE WHEN tx.grp IS NOT NULL THEN 0 ELSE t.n * ({standard("st.salary", "t")}) END
        FROM steady st JOIN terms t ON t.k = st.k
        LEFT JOIN terms_exempt tx ON tx.grp = t.grp AND tx.employer_type = st.employer_type
        UNION ALL
        SELECT x.book, CASE WHEN x.month IS NULL OR x.exempt_month IS NOT NULL OR x.exemption IS NOT NULL THEN 0
                            ELSE x.standard + x.extra END
        FROM (
            -- two exemptions covering the same month repeat its row, with 0 owed in each
            SELECT sp.book, mo.month, xt.month AS exempt_month, ex.member_id AS exemption,
                   {standard("s.salary", "mo")} AS standard,
                   CASE WHEN s.salary IS NOT NULL AND r.rate_bp > mo.rate THEN (s.salary * (r.rate_bp - mo.rate) + 5000) / 10000
                        ELSE 0 END AS extra
            FROM special sp
            LEFT JOIN steady st ON st.id = sp.id
            LEFT JOIN months mo ON sp.joined_on < mo.next
            LEFT JOIN exempt xt ON xt.month = mo.month AND xt.employer_type = sp.employer_type
            LEFT JOIN salaries s ON s.member_id = sp.id AND s.valid_from <= mo.month AND (s.until IS NULL OR s.until > mo.month)
            LEFT JOIN own r ON r.unit_id = sp.book AND r.valid_from <= mo.month AND (r.until IS NULL OR r.until > mo.month)
            LEFT JOIN exemptions ex ON ex.member_id = sp.id AND ex.first_month <= mo.month
                                       AND (ex.last_month IS NULL OR ex.last_month >= mo.month)
            WHERE st.id IS NULL
        ) x
        ) o
        WHERE o.book IS NOT NULL
        GROUP BY o.book"""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # a few 100,000 rows grouped in memory; planning is cheap, compiling it (JIT) is not
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        return [(book, int(amount or 0)) for book, amount in cursor.fetchall()]
