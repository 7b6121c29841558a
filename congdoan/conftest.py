import pytest

from congdoan.core.testing import build_personas


@pytest.fixture
def personas(db):
    return build_personas()


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LANGUAGE_CODE = "vi"


@pytest.fixture
def login(client):
    def _login(user):
        client.force_login(user)
        return client
    return _login
