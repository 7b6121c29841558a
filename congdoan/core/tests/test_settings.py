"""Configuration comes only from environment variables."""

import json
import os
import socket
import subprocess
import sys

import pytest

PROBE = """
import json, django
from django.conf import settings
django.setup()
from huey.contrib.djhuey import HUEY
print(json.dumps({
    "huey": type(HUEY).__name__, "immediate": HUEY.immediate,
    "cache": settings.CACHES["default"]["BACKEND"], "engine": settings.DATABASES["default"]["ENGINE"],
    "debug": settings.DEBUG, "hosts": settings.ALLOWED_HOSTS, "lang": settings.LANGUAGE_CODE,
    "hasher": settings.PASSWORD_HASHERS[0],
}))
"""


def probe(tmp_path, **env):
    full = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "HUEY_IMMEDIATE", "DEBUG")}
    full.update(DJANGO_SETTINGS_MODULE="congdoan.settings", VAR_DIR=str(tmp_path), **env)
    out = subprocess.run([sys.executable, "-c", PROBE], env=full, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_embedded_defaults(tmp_path):
    conf = probe(tmp_path)
    assert conf["huey"] == "SqliteHuey" and conf["immediate"] is False
    assert conf["engine"] == "django.db.backends.sqlite3"
    assert conf["debug"] is False and conf["lang"] == "vi"
    assert conf["hasher"].endswith("Argon2PasswordHasher")
    assert (tmp_path / "secret_key").exists()


def test_environment_switches_to_postgres_and_redis(tmp_path):
    conf = probe(tmp_path, DATABASE_URL="postgres://u@db:5432/cd", REDIS_URL="redis://127.0.0.1:6379/3",
                 DEBUG="true", ALLOWED_HOSTS="a.vn, b.vn")
    assert conf["huey"] == "RedisHuey"
    assert conf["cache"].endswith("RedisCache")
    assert conf["engine"] == "django.db.backends.postgresql"
    assert conf["debug"] is True and conf["hosts"] == ["a.vn", "b.vn"]


def _redis_up():
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_redis_queue_round_trip():
    """A task enqueued on one RedisHuey is dequeued and run by another instance (another machine)."""
    from huey import RedisHuey

    name = f"congdoan-test-{os.getpid()}"
    producer, consumer = RedisHuey(name, url="redis://127.0.0.1:6379/15"), RedisHuey(name, url="redis://127.0.0.1:6379/15")

    def add(a, b):
        return a + b

    enqueue_add = producer.task()(add)
    consumer.task()(add)
    try:
        result = enqueue_add(2, 3)  # goes to Redis, not run here
        message = consumer.dequeue()
        assert message is not None
        assert consumer.execute(message) == 5
        assert result.get() == 5
    finally:
        producer.storage.flush_all()
