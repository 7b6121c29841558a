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


def missing_probe(rows: str, references: list[tuple[str, str, str]]) -> str:
    """SQL returning one row when a value of a column of ``rows`` has no row in the table it refers to.

    ``references``: (column, or columns separated by commas; table referred to; condition between the value
    ``v`` and the row ``r``), e.g. ("unit_id", "organizations_unit", "r.id = v.unit_id"). NULLs are not
    references. Each column's distinct values are probed once."""
    probes = []
    for columns, table, condition in references:
        names = [name.strip() for name in columns.split(",")]
        not_null = " AND ".join(f"{name} IS NOT NULL" for name in names)
        probes.append(f"SELECT 1 FROM (SELECT DISTINCT {', '.join(names)} FROM {rows} WHERE {not_null}) v "
                      f"WHERE NOT EXISTS (SELECT 1 FROM {table} r WHERE {condition})")
    return " UNION ALL ".join(f"({probe} LIMIT 1)" for probe in probes) + " LIMIT 1"


#: rows from which a statement's references are probed by distinct values; fewer are joined row by row (planning the
#: probes costs more than the rows: 0.2 ms more for a one-row INSERT, measured)
FEW_ROWS = 1000


def check_function(name: str, rows: str, references: list[tuple[str, str, str]], row_query: str, message: str) -> str:
    """``CREATE OR REPLACE FUNCTION name()``: when the statement wrote fewer than ``FEW_ROWS`` rows, ``row_query``
    (a SELECT … FROM rows … WHERE <the row is wrong>, without INTO and LIMIT, whose columns ``message`` names as
    bad.<column>) finds a wrong row; from ``FEW_ROWS`` on, the references' distinct values are probed first
    (``missing_probe``) and ``row_query`` runs only when one is missing. A wrong row raises SQLSTATE 23503.
    Planned per statement (EXECUTE): a plan kept for a million rows would serve the one-row statements after it."""
    probe = missing_probe(rows, references).replace("'", "''")
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
