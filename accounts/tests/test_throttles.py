import pytest
from django.contrib.auth.signals import user_login_failed
from django.test import Client
from rest_framework.test import APIClient

from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

REGISTER_URL = "/api/v1/auth/register/"
TOKEN_URL = "/api/v1/auth/token/"
REFRESH_URL = "/api/v1/auth/token/refresh/"

GENEROUS = "1000/minute"


@pytest.fixture
def throttle_rates(settings):
    """Set the rates under test; every other scope stays out of the way.

    The throttles read REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] per request, so
    overriding the setting is enough.
    """

    def set_rates(**rates: str) -> None:
        base = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], GENEROUS)
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**base, **rates}}

    return set_rates


def _client(ip: str = "203.0.113.10") -> APIClient:
    return APIClient(REMOTE_ADDR=ip)


def _login(client: APIClient, email: str, password: str):
    return client.post(TOKEN_URL, {"email": email, "password": password}, format="json")


def test_wrong_passwords_end_in_429_and_then_the_right_password_is_refused_too(throttle_rates):
    throttle_rates(login_email="3/minute")
    user = UserFactory()
    client = _client()

    statuses = [_login(client, user.email, "wrong-guess").status_code for _ in range(3)]
    locked = _login(client, user.email, DEFAULT_PASSWORD)

    assert statuses == [401, 401, 401]
    assert locked.status_code == 429
    assert "Retry-After" in locked
    assert "access" not in locked.json()


def test_throttled_login_attempts_never_reach_the_password_check(throttle_rates):
    throttle_rates(login_email="2/minute")
    user = UserFactory()
    client = _client()
    failures = []

    def record_failure(sender, credentials, **kwargs):
        failures.append(credentials)

    user_login_failed.connect(record_failure)
    try:
        responses = [_login(client, user.email, "wrong-guess").status_code for _ in range(5)]
    finally:
        user_login_failed.disconnect(record_failure)

    assert responses == [401, 401, 429, 429, 429]
    assert len(failures) == 2


def test_per_email_login_throttle_holds_across_different_ips(throttle_rates):
    throttle_rates(login_email="3/minute")
    user = UserFactory()

    statuses = [_login(_client(f"198.51.100.{i}"), user.email, "wrong-guess").status_code for i in range(1, 4)]
    from_a_fresh_ip = _login(_client("192.0.2.99"), user.email, DEFAULT_PASSWORD)

    assert statuses == [401, 401, 401]
    assert from_a_fresh_ip.status_code == 429


def test_per_email_login_throttle_normalises_the_email(throttle_rates):
    throttle_rates(login_email="2/minute")
    user = UserFactory(email="norm@example.com")
    client = _client()

    _login(client, "norm@example.com", "wrong-guess")
    _login(client, "  NORM@Example.com", "wrong-guess")

    assert _login(client, "Norm@EXAMPLE.com", DEFAULT_PASSWORD).status_code == 429
    assert user.refresh_tokens.count() == 0


def test_per_email_login_throttle_leaves_other_accounts_alone(throttle_rates):
    throttle_rates(login_email="2/minute")
    victim, bystander = UserFactory(), UserFactory()
    client = _client()
    for _ in range(2):
        _login(client, victim.email, "wrong-guess")

    assert _login(client, victim.email, DEFAULT_PASSWORD).status_code == 429
    assert _login(client, bystander.email, DEFAULT_PASSWORD).status_code == 200


def test_per_ip_login_throttle_holds_across_different_emails(throttle_rates):
    throttle_rates(login="3/minute")
    users = UserFactory.create_batch(4)
    client = _client("203.0.113.50")

    statuses = [_login(client, user.email, "wrong-guess").status_code for user in users[:3]]
    sprayed = _login(client, users[3].email, DEFAULT_PASSWORD)
    other_ip = _login(_client("203.0.113.51"), users[3].email, DEFAULT_PASSWORD)

    assert statuses == [401, 401, 401]
    assert sprayed.status_code == 429
    assert other_ip.status_code == 200


def _register(client: APIClient, email: str):
    body = {"email": email, "password": "quiet-otter-harbour-917", "full_name": "R"}
    return client.post(REGISTER_URL, body, format="json")


def test_register_is_throttled_per_ip(throttle_rates):
    throttle_rates(register="2/hour")
    client = _client()

    statuses = [_register(client, f"r{i}@example.com").status_code for i in range(3)]

    assert statuses == [201, 201, 429]


def test_register_is_throttled_per_email_across_ips(throttle_rates):
    throttle_rates(register_email="2/hour")

    statuses = [_register(_client(f"198.51.100.{i}"), "Same@Example.com").status_code for i in range(1, 4)]

    assert statuses == [201, 400, 429]


def test_refresh_is_throttled_per_ip(throttle_rates):
    throttle_rates(refresh="2/minute")
    client = _client()

    statuses = [client.post(REFRESH_URL, {"refresh": "garbage"}, format="json").status_code for _ in range(3)]

    assert statuses == [401, 401, 429]


def test_a_body_without_email_is_still_counted_per_ip(throttle_rates):
    throttle_rates(login="2/minute")
    client = _client()

    statuses = [client.post(TOKEN_URL, {"password": "x"}, format="json").status_code for _ in range(3)]

    assert statuses == [400, 400, 429]


# --- One bucket per address, however it is spelled -----------------------------------------------------------


def test_email_throttle_keys_fold_unicode_compatibility_variants_and_case():
    from accounts.throttles import LoginEmailThrottle, _FormAttempt

    def key(email: str) -> str:
        return LoginEmailThrottle().get_cache_key(_FormAttempt(_FakeRequest(), email), None)

    assert key("\uff21lice@Example.com") == key("alice@example.com") == key("ALICE@example.com")
    assert key("alice@example.com") != key("alicia@example.com")


class _FakeRequest:
    META = {"REMOTE_ADDR": "203.0.113.10"}
    headers: dict = {}


def test_fullwidth_and_case_variants_spend_the_same_login_budget(throttle_rates):
    throttle_rates(login_email="2/minute")
    user = UserFactory(email="alice@example.com")

    first = _login(_client("198.51.100.1"), "\uff21lice@Example.com", "wrong-guess")  # fullwidth A
    second = _login(_client("198.51.100.2"), "ALICE@example.com", "wrong-guess")
    third = _login(_client("198.51.100.3"), "alice@example.com", DEFAULT_PASSWORD)

    assert (first.status_code, second.status_code, third.status_code) == (401, 401, 429)
    assert user.refresh_tokens.count() == 0


# --- Django admin's login: the same buckets --------------------------------------------------------------------

ADMIN_LOGIN_URL = "/admin/login/"


def _admin_login(client, email: str, password: str):
    return client.post(ADMIN_LOGIN_URL, {"username": email, "password": password, "next": "/admin/"})


def test_admin_login_is_throttled_per_email_with_a_readable_429_page(throttle_rates, client):
    throttle_rates(login_email="3/minute")
    staff = UserFactory(is_staff=True)

    statuses = [_admin_login(client, staff.email, "wrong-guess").status_code for _ in range(3)]
    blocked = _admin_login(client, staff.email, DEFAULT_PASSWORD)

    assert statuses == [200, 200, 200]
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    page = blocked.content.decode()
    assert '<p class="errornote">' in page
    assert "Too many login attempts. Try again in" in page
    assert f'value="{staff.email}"' in page
    assert "_auth_user_id" not in client.session


def test_admin_login_is_throttled_per_ip_across_emails(throttle_rates, client):
    throttle_rates(login="2/minute")
    staff = UserFactory(is_staff=True)

    for i in range(2):
        _admin_login(client, f"guess{i}@example.com", "wrong-guess")

    assert _admin_login(client, staff.email, DEFAULT_PASSWORD).status_code == 429
    assert _admin_login(Client(REMOTE_ADDR="192.0.2.7"), staff.email, DEFAULT_PASSWORD).status_code == 302


def test_api_portal_and_admin_logins_share_one_per_email_budget_whatever_the_spelling(throttle_rates, client):
    throttle_rates(login_email="2/minute")
    staff = UserFactory(email="alice@example.com", is_staff=True)

    _login(_client(), "ALICE@example.com", "wrong-guess")
    client.post("/accounts/login/", {"username": "\uff21lice@example.com", "password": "wrong-guess"})

    assert _admin_login(client, staff.email, DEFAULT_PASSWORD).status_code == 429


def test_admin_login_page_itself_is_not_counted(throttle_rates, client):
    throttle_rates(login="2/minute")
    staff = UserFactory(is_staff=True)

    for _ in range(5):
        assert client.get(ADMIN_LOGIN_URL).status_code == 200

    assert _admin_login(client, staff.email, DEFAULT_PASSWORD).status_code == 302
