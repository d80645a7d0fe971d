"""The API's cached user (accounts.user_cache): no user query on a hit, revocation still at once."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from accounts.feeds import user_feed_rotate
from accounts.models import User
from accounts.tests.factories import DEFAULT_PASSWORD, AdminFactory, UserFactory
from accounts.user_cache import user_cached

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
ME_URL = "/api/v1/users/me/"
NEW_PASSWORD = "a-brand-new-passphrase-77"


def _access_client(email: str, password: str = DEFAULT_PASSWORD) -> APIClient:
    """A client holding a real access token from the login endpoint (with its `cv` claim)."""
    response = APIClient().post(TOKEN_URL, {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def test_a_cached_user_costs_no_query(django_assert_num_queries):
    user = UserFactory()
    client = _access_client(user.email)
    assert client.get(ME_URL).status_code == 200  # loads and caches the user
    assert user_cached(user.pk) is not None

    with django_assert_num_queries(0):
        response = client.get(ME_URL)

    assert response.status_code == 200
    assert response.json()["email"] == user.email


def test_with_the_cache_off_every_request_reads_the_user(settings, django_assert_num_queries):
    settings.AUTH_USER_CACHE_SECONDS = 0
    user = UserFactory()
    client = _access_client(user.email)
    client.get(ME_URL)

    with django_assert_num_queries(1):
        assert client.get(ME_URL).status_code == 200
    assert user_cached(user.pk) is None


def test_a_password_change_revokes_a_cached_session_at_once():
    user = UserFactory(email="pat@example.com")
    client = _access_client(user.email)
    assert client.get(ME_URL).status_code == 200  # cached
    browser = Client()
    browser.force_login(user)

    changed = browser.post(
        "/accounts/password/change/",
        {"old_password": DEFAULT_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert changed.status_code == 302
    response = client.get(ME_URL)
    assert response.status_code == 401
    assert response.json()["code"] == "session_revoked"
    assert _access_client(user.email, NEW_PASSWORD).get(ME_URL).status_code == 200


def test_deactivation_through_the_orm_refuses_a_cached_session_at_once():
    user = UserFactory()
    client = _access_client(user.email)
    assert client.get(ME_URL).status_code == 200

    user.is_active = False
    user.save()

    assert client.get(ME_URL).status_code == 401


def test_deactivation_through_the_admin_refuses_a_cached_session_at_once():
    user = UserFactory()
    client = _access_client(user.email)
    assert client.get(ME_URL).status_code == 200
    admin = Client()
    admin.force_login(AdminFactory())
    form = {"email": user.email, "full_name": user.full_name, "last_login_0": "", "last_login_1": ""}  # unticked

    assert admin.post(f"/admin/accounts/user/{user.pk}/change/", form).status_code == 302
    assert client.get(ME_URL).status_code == 401


def test_deleting_the_user_refuses_a_cached_session_at_once():
    user = UserFactory()
    client = _access_client(user.email)
    assert client.get(ME_URL).status_code == 200

    User.objects.filter(pk=user.pk).delete()  # a queryset delete still sends post_delete per row

    assert client.get(ME_URL).status_code == 401


def test_a_raw_sql_change_shows_within_the_cache_lifetime_and_a_newer_token_is_not_refused():
    """What bypasses Django is seen when the entry expires; a token newer than the cache reads the row again."""
    user = UserFactory()
    old = _access_client(user.email)
    assert old.get(ME_URL).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_user SET full_name = 'Renamed' WHERE id = %s", [user.pk])
        cursor.execute("UPDATE accounts_user SET password = 'x' || password WHERE id = %s", [user.pk])

    assert old.get(ME_URL).status_code == 200  # the stale entry accepts the old token until it expires
    User.objects.filter(pk=user.pk).update(password=User.objects.get(pk=user.pk).password[1:])  # back
    new = _access_client(user.email)  # a token with the new credentials version
    response = new.get(ME_URL)
    assert response.status_code == 200
    assert response.json()["full_name"] == "Renamed"  # read again, not taken from the stale entry
    assert old.get(ME_URL).status_code == 401  # and now the old token meets the fresh row


def test_rotating_the_calendar_feed_token_forgets_the_cached_user():
    user = UserFactory()
    client = _access_client(user.email)
    client.get(ME_URL)
    assert user_cached(user.pk) is not None

    user_feed_rotate(user=user)

    assert user_cached(user.pk) is None
