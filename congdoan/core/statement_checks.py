"""SQL of PostgreSQL's statement-level reference checks, shared by the migrations that install them.

A statement-level trigger checks the references of the rows one INSERT or UPDATE wrote (a transition table)
instead of one foreign-key check per row. ``check_function`` builds the trigger function from:

- the **references** (column, table referred to, extra condition): each is checked over the *distinct*
  values the statement wrote, not row by row: a million-line statement names a few thousand units,
  transactions or accounts, and probing each distinct value once costs a hash aggregate over the rows
  plus a few thousand index look-ups, instead of one look-up per row and reference;
- the **row query**: the first row naming a missing reference, for the message; asked at once of a statement
  that wrote few rows (``FEW_ROWS``), of a larger one only when the probe found a reference missing.

Migrations import this module: what it returns for given arguments must never change (a migration's SQL
is history). A different check gets a new function here.
"""


def missing_probe(rows: str, references: list[tuple[str, str, str]], dense: tuple[str, ...] = ()) -> str:
    """SQL returning one row when a value of a column of ``rows`` has no row in the table it refers to.

    ``references``: (column, or columns separated by commas; table referred to; condition between the value
    ``v`` and the row ``r``), e.g. ("unit_id", "organizations_unit", "r.id = v.unit_id"). NULLs are not
    references. Each column's distinct values are probed once. A column named in ``dense`` refers to the
    table's ``id`` and mostly names a run of consecutive ids (the lines a chunk of allocations pays: the
    chunk's own lines, numbered in a row): ``dense_probe`` counts the run before probing value by value."""
    if not isinstance(dense, tuple):
        raise TypeError("dense is a tuple of column names")
    probes = []
    for columns, table, condition in references:
        names = [name.strip() for name in columns.split(",")]
        not_null = " AND ".join(f"{name} IS NOT NULL" for name in names)
        probe = (f"SELECT 1 FROM (SELECT DISTINCT {', '.join(names)} FROM {rows} WHERE {not_null}) v "
                 f"WHERE NOT EXISTS (SELECT 1 FROM {table} r WHERE {condition})")
        if columns in dense:
            if len(names) != 1 or condition != f"r.id = v.{columns}":
                raise ValueError(f"{columns}: only a single column referring to the table's id can be probed by its run")
            probe = dense_probe(rows, columns, table, probe)
        probes.append(probe)
    return " UNION ALL ".join(f"({probe} LIMIT 1)" for probe in probes) + " LIMIT 1"


def dense_probe(rows: str, column: str, table: str, exact: str) -> str:
    """SQL returning one row when a value of ``column`` has no row of ``table`` with that ``id``, for a column whose
    values mostly run through consecutive ids. Ids are unique: when ``table`` holds as many rows between the
    smallest and the largest value as the range has numbers, every value in it exists: one index range scan instead
    of one look-up per value (the whole check of a chunk's 18,000 allocations: 43 -> 23 ms; a million-line import's
    allocation checks 2.2 -> 1.2 s). Otherwise (a gap, a row another transaction has not committed, a range wider
    than twice the rows, where counting would cost more than looking up) the ``exact`` probe decides. The width is
    computed in numeric (ids at both ends of bigint would overflow it) and the CASE decides in order: the range is
    counted only when it is narrow enough."""
    width = "(s.hi::numeric - s.lo + 1)"
    return (f"SELECT 1 FROM (SELECT min({column}) AS lo, max({column}) AS hi, count({column}) AS n FROM {rows}) s "
            f"WHERE CASE WHEN s.n = 0 THEN false "
            f"WHEN {width} > 2 * s.n THEN EXISTS ({exact}) "
            f"WHEN (SELECT count(*) FROM {table} r WHERE r.id >= s.lo AND r.id <= s.hi) = {width} THEN false "
            f"ELSE EXISTS ({exact}) END")


#: rows from which a statement's references are probed by distinct values; fewer are joined row by row (planning the
#: probes costs more than the rows: 0.2 ms more for a one-row INSERT, measured)
FEW_ROWS = 1000


def check_function(name: str, rows: str, references: list[tuple[str, str, str]], row_query: str, message: str,
                   dense: tuple[str, ...] = ()) -> str:
    """``CREATE OR REPLACE FUNCTION name()``: when the statement wrote fewer than ``FEW_ROWS`` rows, ``row_query``
    (a SELECT … FROM rows … WHERE <the row is wrong>, without INTO and LIMIT, whose columns ``message`` names as
    bad.<column>) finds a wrong row; from ``FEW_ROWS`` on, the references' distinct values are probed first
    (``missing_probe``) and ``row_query`` runs only when one is missing. A wrong row raises SQLSTATE 23503.
    Planned per statement (EXECUTE): a plan kept for a million rows would serve the one-row statements after it.
    ``dense``: columns probed by their run of ids first (``missing_probe``)."""
    probe = missing_probe(rows, references, dense).replace("'", "''")
    query = row_query.replace("'", "''")
    return f"""
        CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
        DECLARE
            bad record;
            written bigint;
            missing boolean := true;
            found_rows bigint;
        BEGIN
            EXECUTE 'SELECT count(*) FROM (SELECT 1 FROM {rows} LIMIT {FEW_ROWS}) w' INTO written;
            IF written >= {FEW_ROWS} THEN
                EXECUTE 'SELECT EXISTS ({probe})' INTO missing;
            END IF;
            IF missing THEN
                EXECUTE '{query} LIMIT 1' INTO bad;
                GET DIAGNOSTICS found_rows = ROW_COUNT;  -- EXECUTE does not set FOUND
                IF found_rows > 0 THEN
                    RAISE EXCEPTION {message} USING ERRCODE = '23503';
                END IF;
            END IF;
            RETURN NULL;
        END $$
        """


def delete_guard(name: str, table: str, condition: str, message: str) -> list[str]:
    """``CREATE FUNCTION name()`` and its BEFORE DELETE trigger on ``table``: a row for which ``condition`` (SQL on
    ``OLD``) holds is refused with ``message`` (a RAISE format whose one ``%`` is the row's id), SQLSTATE 23503. What a
    foreign key guarded on the referred table, once a statement-level check replaces it."""
    return [
        f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {condition} THEN
                RAISE EXCEPTION {message}, OLD.id USING ERRCODE = '23503';
            END IF;
            RETURN OLD;
        END $$
        """,
        f"CREATE TRIGGER {name} BEFORE DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()",
    ]


def on_postgresql(statements: list[str]):
    """A ``RunPython`` function running ``statements`` on PostgreSQL and nothing on SQLite (which keeps the models'
    checks)."""
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql, params=None)

    return apply
