"""Database helpers shared by the apps."""

from contextlib import contextmanager


@contextmanager
def local_settings(connection, settings: dict[str, str]):
    """PostgreSQL run-time settings (``{"jit": "off", "work_mem": "64MB"}``) for the statements inside the
    block, within the current transaction, and afterwards back to what they were (a plain SET LOCAL would
    keep them to the end of the transaction). Nothing happens on other databases. An exception inside
    leaves them set: the transaction, or its savepoint, is rolled back anyway, and with it the settings."""
    if connection.vendor != "postgresql":
        yield
        return
    names = list(settings)
    assignments = "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(names))
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(["current_setting(%s)"] * len(names)), names)
        before = cursor.fetchone()
        cursor.execute(assignments, [value for name in names for value in (name, settings[name])])
    yield
    with connection.cursor() as cursor:
        cursor.execute(assignments, [value for pair in zip(names, before) for value in pair])
