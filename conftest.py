"""Fixtures shared by every app's tests."""

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tests.factories import AdminFactory, UserFactory
from merchants.tests.factories import MerchantFactory


def pytest_addoption(parser):
    parser.addoption(
        "--skip-embedded",
        action="store_true",
        default=False,
        help="Skip tests that boot the embedded servers (pgserver). Never skipped silently.",
    )


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--skip-embedded"):
        return
    skip = pytest.mark.skip(reason="--skip-embedded was given")
    for item in items:
        if "embedded" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Throttle counters must not leak between tests; fast hashing and plain static files in tests."""
    from django.core.cache import cache

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The manifest storage needs `collectstatic` output; tests render templates without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def bearer_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def customer(db):
    return UserFactory()


@pytest.fixture
def customer_client(customer) -> APIClient:
    return bearer_client(customer)


@pytest.fixture
def merchant(db):
    return MerchantFactory()


@pytest.fixture
def merchant_client(merchant) -> APIClient:
    return bearer_client(merchant.owner)


@pytest.fixture
def admin_user(db):
    return AdminFactory()


@pytest.fixture
def admin_client_api(admin_user) -> APIClient:
    return bearer_client(admin_user)


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    """Tasks run in-process in tests (on commit, as in production), never through a broker."""
    from bookwise.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
