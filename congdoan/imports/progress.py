"""Progress of a running job, written to its row so the page can poll it.

While an import runs inside its one big transaction, writes on that connection would stay
invisible until the end; on PostgreSQL progress therefore goes through a second, autocommit
connection. SQLite allows one writer at a time, so there the progress of the writing phase
becomes visible when it ends (the checking phase, which runs outside a transaction, shows live).
"""

import time

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections


class Progress:
    def __init__(self, model, pk, *, interval: float = 0.5):
        self.table = model._meta.db_table
        self.model, self.pk, self.interval = model, pk, interval
        self._last = 0.0
        self._side = None

    def update(self, force: bool = False, **values):
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        if connection.vendor == "postgresql" and connection.in_atomic_block:
            self._side_update(values)
        else:
            self.model.objects.filter(pk=self.pk).update(**values)

    def _side_update(self, values):
        try:
            if self._side is None:
                self._side = connections.create_connection(DEFAULT_DB_ALIAS)
                with self._side.cursor() as cur:
                    # never wait for a lock: progress is a hint, the result is written at the end
                    cur.execute("SET lock_timeout = '200ms'")
            sets = ", ".join(f"{name} = %s" for name in values)
            with self._side.cursor() as cur:
                cur.execute(f"UPDATE {self.table} SET {sets} WHERE id = %s", [*values.values(), self.pk])
        except DatabaseError:
            pass

    def close(self):
        if self._side is not None:
            self._side.close()
            self._side = None
