import pytest
from django.contrib.auth.signals import user_login_failed
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
