"""Fixtures shared by every app's tests, including a real localstripe for payments, bookings and browser tests."""

import os
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
import stripe
from django.conf import settings as django_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tests.factories import AdminFactory, UserFactory
from devtools.embedded import free_port, register_localstripe_webhook, start_localstripe, stop_process
from merchants.tests.factories import MerchantFactory

LOCALSTRIPE_WEBHOOK_NAME = "bookwise-tests"
# localstripe sends an event 1 s after it happens; a delivery started then takes well under a second.
WEBHOOK_SETTLE_SECONDS = 2.0


def _redis_url_for_worker(url: str, worker: str) -> str:
    """The same Redis, another database per pytest-xdist worker (gw0 keeps the given one).

    Every test clears the cache (FLUSHDB) before and after it runs: workers
    sharing one database would wipe each other's throttle counters mid-test.
    """
    index = int(worker.removeprefix("gw") or 0)
    if index == 0:
        return url
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if parts.scheme == "unix" or "db" in query:
        query["db"] = str((int(query.get("db", 0)) + index) % 16)
        return urlunsplit(parts._replace(query=urlencode(query)))
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base - index) % 16}"))


if os.environ.get("PYTEST_XDIST_WORKER") and django_settings.REDIS_URL:
    # Before any test touches the cache: the cache object is built on first use.
    _worker_url = _redis_url_for_worker(django_settings.REDIS_URL, os.environ["PYTEST_XDIST_WORKER"])
    django_settings.REDIS_URL = _worker_url
    django_settings.CACHES["default"]["LOCATION"] = _worker_url


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
    # Tests read back what they just wrote; the anonymous catalog cache has tests of its own
    # (bookwise/tests/test_response_cache.py), which turn it on.
    settings.CATALOG_CACHE_SECONDS = 0

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def _media_root(tmp_path_factory):
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _slots_start_two_days_ahead():
    """Each test's factory slots start two days ahead, two hours apart (catalog.tests.factories.SlotFactory).

    The sequence otherwise runs on across a worker's thousands of tests, and later slots landed
    beyond the 12 months the theme page's calendar shows (a page without a book form).
    """
    from catalog.tests.factories import SlotFactory

    SlotFactory.reset_sequence()


@pytest.fixture(autouse=True)
def _temporary_media(settings, _media_root):
    """Uploads (theme photos) go to a temporary folder on the filesystem: never into the repository or a bucket."""
    settings.MEDIA_ROOT = str(_media_root)
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}}


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


# --- Stripe: a real localstripe process ---------------------------------------------------


@pytest.fixture(scope="session")
def localstripe(tmp_path_factory):
    """One `localstripe --from-scratch` for the session; dj-stripe, the SDK and our services point at it.

    Started only by the tests that ask for it. Its log is in the session's
    temporary directory (`localstripe*/localstripe.log`).
    """
    log = tmp_path_factory.mktemp("localstripe") / "localstripe.log"
    process, base_url = start_localstripe(free_port(), log=log)
    old_host = getattr(django_settings, "STRIPE_API_HOST", None)
    old_base = stripe.api_base
    django_settings.STRIPE_API_HOST = base_url
    stripe.api_base = base_url  # dj-stripe's own calls use the module-level SDK
    try:
        yield base_url
    finally:
        stripe.api_base = old_base
        if old_host is None:
            del django_settings.STRIPE_API_HOST
        else:
            django_settings.STRIPE_API_HOST = old_host
        stop_process(process)


@pytest.fixture
def webhook_endpoint(db, localstripe):
    """dj-stripe's endpoint for STRIPE_WEBHOOK_SECRET, with the local Account + APIKey rows."""
    from payments.stripe_setup import ensure_webhook_endpoint

    return ensure_webhook_endpoint("http://testserver")


@pytest.fixture
def localstripe_delivers_to(localstripe, live_server):
    """Make localstripe deliver its signed events to the live server's endpoint (memory only: undone after)."""
    from payments.stripe_setup import webhook_path

    def register(endpoint):
        register_localstripe_webhook(
            localstripe, LOCALSTRIPE_WEBHOOK_NAME, live_server.url + webhook_path(endpoint), endpoint.secret
        )

    yield register
    # Nothing listens on a freshly freed port: later events go nowhere.
    register_localstripe_webhook(
        localstripe, LOCALSTRIPE_WEBHOOK_NAME, f"http://127.0.0.1:{free_port()}/", "whsec_nobody"
    )
    # A delivery already on its way (localstripe sends each event a second after it) reaches the
    # live server, which every test shares: let it finish before the next test flushes the database
    # under it (a late event's sync then failed in the next test, or blocked its flush).
    time.sleep(WEBHOOK_SETTLE_SECONDS)
