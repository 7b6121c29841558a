"""Shared helpers for benchmarks that need their own database and a national union tree.

Each benchmark runs its measurements in a child process (``python -m benchmarks.<module> --worker``)
whose DATABASE_URL points at a database it creates and drops, so benchmarks never share state
with each other or with the development database.
"""

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(os.environ.get("BENCH_DIR", ROOT / "var" / "bench"))
SERVER_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(SERVER_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def database_url(name: str) -> str:
    base, _, _ = SERVER_URL.rpartition("/")
    return f"{base}/{name}"


@contextmanager
def pg_database(name: str):
    """Create database ``name`` (dropping a leftover one), yield its URL, drop it afterwards
    (BENCH_KEEP_DB=1 keeps it, to look at query plans)."""
    import psycopg

    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(name)
    finally:
        if os.environ.get("BENCH_KEEP_DB") != "1":
            with psycopg.connect(SERVER_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_worker(module: str, args: list[str], env: dict) -> list[str]:
    """Run ``python -m module --worker args`` with ``env`` added; return its figure lines."""
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "congdoan.settings", **env}
    out = subprocess.run([sys.executable, "-m", module, "--worker", *args], env=full, cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        raise RuntimeError(f"benchmark worker {module} {args} failed ({out.returncode})")
    return [line for line in out.stdout.splitlines() if line.strip()]


def setup_django():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def build_tree(grassroots: int, *, per_upper: int = 20, provinces: int = 63) -> dict:
    """A national tree: 1 federation, ``provinces`` provinces, upper-grassroots unions and ``grassroots``
    grassroots unions coded G00000…; built with bulk_create (the tree is set-up, not measured)."""
    from congdoan.core import paths as tree
    from congdoan.core.text import normalize_search
    from congdoan.organizations.models import Unit

    def unit(code, name, level, parent_path, number):
        path = parent_path + tree.encode_segment(number)
        return Unit(code=code, name=name, name_normalized=normalize_search(name), level=level, path=path,
                    depth=len(path) // tree.STEPLEN)

    national = unit("TLD", "Tổng Liên đoàn Lao động Việt Nam", "national", "", 0)
    national.save()
    province_units = [unit(f"P{i:02d}", f"Liên đoàn Lao động tỉnh {i}", "province", national.path, i) for i in range(provinces)]
    for p in province_units:
        p.parent = national
    Unit.objects.bulk_create(province_units)
    province_units = list(Unit.objects.filter(level="province").order_by("path"))
    uppers_needed = max(1, -(-grassroots // per_upper))
    uppers = []
    for i in range(uppers_needed):
        parent = province_units[i % provinces]
        u = unit(f"U{i:05d}", f"Công đoàn cấp trên {i}", "upper_grassroots", parent.path, i // provinces)
        u.parent = parent
        uppers.append(u)
    Unit.objects.bulk_create(uppers, batch_size=2000)
    uppers = list(Unit.objects.filter(level="upper_grassroots").order_by("code"))
    grassroots_units = []
    for i in range(grassroots):
        parent = uppers[i // per_upper]
        g = unit(f"G{i:05d}", f"Công đoàn cơ sở {i}", "grassroots", parent.path, i % per_upper)
        g.parent = parent
        g.employer_type = "domestic_private"
        grassroots_units.append(g)
    Unit.objects.bulk_create(grassroots_units, batch_size=2000)
    return {"national": national}


class Timer:
    def __init__(self):
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start


def _process_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a process on this machine, None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def backend_pid() -> int | None:
    """The process id of the PostgreSQL backend serving Django's connection (None on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]


class Usage:
    """Wall time and CPU seconds spent meanwhile: by this process (all its threads and the child
    processes it waited for) and by the PostgreSQL backend serving Django's connection, when the
    server runs on this machine. On a shared machine wall times move with the other load; CPU
    seconds much less, so they tell where the work goes."""

    def __init__(self):
        self.backend = backend_pid()
        self.start = self._now()

    def _now(self):
        t = os.times()
        db = _process_cpu(self.backend) if self.backend else None
        return time.perf_counter(), t.user + t.system + t.children_user + t.children_system, db

    def summary(self) -> str:
        wall, py, db = (b - a if a is not None and b is not None else None for a, b in zip(self.start, self._now()))
        load = os.getloadavg()[0]
        text = f"wall {wall:.1f} s, CPU: Python {py:.1f} s"
        if db is not None:
            text += f", PostgreSQL backend {db:.1f} s"
        return text + f" (load average {load:.1f} on {os.cpu_count()} cores)"
