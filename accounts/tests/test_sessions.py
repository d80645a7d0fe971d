"""API sessions (refresh-token families) end when the password or the active flag changes, and when they get old.

Every path that changes a password or deactivates a user is tried end to end:
the API refresh that follows must be a 401, and a fresh login must work.
"""

import contextlib
import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services
from accounts.models import RefreshTokenRecord, User
from accounts.services import AuthenticationRejected
from accounts.tests.factories import DEFAULT_PASSWORD, AdminFactory, UserFactory
from tests.concurrency import run_together

TOKEN_URL = "/api/v1/auth/token/"
REFRESH_URL = "/api/v1/auth/token/refresh/"
NEW_PASSWORD = "a-brand-new-passphrase-77"


def _api_login(email: str, password: str = DEFAULT_PASSWORD) -> str:
    response = APIClient().post(TOKEN_URL, {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["refresh"]


def _refresh(raw: str):
    return APIClient().post(REFRESH_URL, {"refresh": raw}, format="json")


def _assert_session_revoked(raw: str) -> None:
    response = _refresh(raw)
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "session_revoked"
    family = RefreshToken(raw, verify=False)["family"]
    assert not RefreshTokenRecord.objects.filter(family=family, revoked_at__isnull=True).exists()


def _assert_fresh_login_works(email: str, password: str) -> None:
    assert _refresh(_api_login(email, password)).status_code == 200


# --- Every path that changes a password or the active flag ----------------------------------------------

pytestmark = pytest.mark.django_db


def test_portal_password_change_ends_every_api_session_and_a_new_login_works():
    user = UserFactory(email="pat@example.com")
    phone, laptop = _api_login(user.email), _api_login(user.email)
    browser = Client()
    browser.force_login(user)

    response = browser.post(
        "/accounts/password/change/",
        {"old_password": DEFAULT_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    _assert_session_revoked(phone)
    _assert_session_revoked(laptop)
    _assert_fresh_login_works(user.email, NEW_PASSWORD)


def test_portal_password_reset_ends_every_api_session(mailoutbox, django_capture_on_commit_callbacks):
    user = UserFactory(email="rita@example.com")
    stolen = _api_login(user.email)
    browser = Client()
    with django_capture_on_commit_callbacks(execute=True):
        browser.post("/accounts/password/reset/", {"email": user.email})
    link = re.search(r"(/accounts/password/reset/[^/\s]+/[^/\s]+/)", mailoutbox[0].body).group(1)
    form_page = browser.get(link, follow=True)

    done = browser.post(form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert done.status_code == 302
    _assert_session_revoked(stolen)
    _assert_fresh_login_works(user.email, NEW_PASSWORD)


def _admin_browser() -> Client:
    browser = Client()
    browser.force_login(AdminFactory())
    return browser


def _admin_change_form(user: User, **overrides) -> dict:
    return {
        "email": user.email,
        "full_name": user.full_name,
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        **overrides,
    }


def test_admin_deactivation_ends_api_sessions_and_reactivation_does_not_revive_them():
    user = UserFactory(email="dee@example.com")
    before = _api_login(user.email)
    also_before = _api_login(user.email)
    admin = _admin_browser()
    form = _admin_change_form(user)
    del form["is_active"]  # an unticked checkbox is absent from the POST

    assert admin.post(f"/admin/accounts/user/{user.pk}/change/", form).status_code == 302
    _assert_session_revoked(before)

    assert admin.post(f"/admin/accounts/user/{user.pk}/change/", _admin_change_form(user)).status_code == 302
    # `also_before` was never presented while the account was inactive: the version still kills it.
    _assert_session_revoked(also_before)
    _assert_fresh_login_works(user.email, DEFAULT_PASSWORD)


def test_admin_password_change_form_ends_api_sessions():
    user = UserFactory(email="ada@example.com")
    stolen = _api_login(user.email)

    response = _admin_browser().post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )

    assert response.status_code == 302, response.content.decode()
    _assert_session_revoked(stolen)
    _assert_fresh_login_works(user.email, NEW_PASSWORD)


def test_changepassword_command_ends_api_sessions(monkeypatch):
    from django.contrib.auth.management.commands import changepassword

    user = UserFactory(email="cmd@example.com")
    stolen = _api_login(user.email)
    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": NEW_PASSWORD)

    call_command("changepassword", user.email, stdout=io.StringIO())

    _assert_session_revoked(stolen)
    _assert_fresh_login_works(user.email, NEW_PASSWORD)


def test_set_password_then_a_partial_save_ends_api_sessions():
    user = UserFactory()
    stolen = _api_login(user.email)

    user.set_password(NEW_PASSWORD)
    user.save(update_fields=["password"])

    _assert_session_revoked(stolen)


@pytest.mark.parametrize(
    "change",
    [
        {"password": "md5$x$0123456789abcdef0123456789abcdef"},
        {"is_active": False},
    ],
    ids=["password", "is_active"],
)
def test_a_queryset_update_bypassing_save_still_ends_api_sessions(change):
    user = UserFactory()
    stolen = _api_login(user.email)

    User.objects.filter(pk=user.pk).update(**change)
    if "is_active" in change:
        User.objects.filter(pk=user.pk).update(is_active=True)

    _assert_session_revoked(stolen)


def test_a_stale_copy_of_the_user_saved_later_does_not_bring_old_sessions_back():
    user = UserFactory()
    stolen = _api_login(user.email)
    stale = User.objects.get(pk=user.pk)  # loaded before the change, with the old version
    user.set_password(NEW_PASSWORD)
    user.save()

    stale.full_name = "Renamed Elsewhere"
    stale.password = User.objects.get(pk=user.pk).password  # keeps the new password
    stale.save()

    _assert_session_revoked(stolen)


def test_other_changes_to_the_user_keep_api_sessions():
    user = UserFactory(email="keep@example.com")
    session = _api_login(user.email)

    services.user_update_profile(user=user, full_name="New Name")
    services.user_set_role(user=user, role="merchant")
    Client().post("/accounts/login/", {"username": user.email, "password": DEFAULT_PASSWORD})  # last_login

    assert _refresh(session).status_code == 200


# --- Access tokens die with their session's credentials (accounts.authentication) ------------------

ME_URL = "/api/v1/users/me/"


def _api_login_pair(email: str, password: str = DEFAULT_PASSWORD) -> dict:
    response = APIClient().post(TOKEN_URL, {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _me(access: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(ME_URL)


def test_an_access_token_stops_working_at_once_when_the_password_changes():
    user = UserFactory()
    access = _api_login_pair(user.email)["access"]
    assert _me(access).status_code == 200

    user.set_password(NEW_PASSWORD)
    user.save()

    response = _me(access)
    assert response.status_code == 401
    assert response.json()["code"] == "session_revoked"
    assert _me(_api_login_pair(user.email, NEW_PASSWORD)["access"]).status_code == 200


def test_an_access_token_stops_working_at_once_when_the_user_is_deactivated_and_reactivated():
    user = UserFactory()
    access = _api_login_pair(user.email)["access"]

    User.objects.filter(pk=user.pk).update(is_active=False)
    User.objects.filter(pk=user.pk).update(is_active=True)

    assert _me(access).status_code == 401


def test_a_refreshed_access_token_carries_the_same_credentials_version():
    user = UserFactory()
    refreshed = _refresh(_api_login_pair(user.email)["refresh"]).json()["access"]
    assert _me(refreshed).status_code == 200

    user.set_password(NEW_PASSWORD)
    user.save()

    assert _me(refreshed).status_code == 401


def test_an_access_token_without_the_claim_is_still_accepted_until_it_expires():
    """Tokens issued before the claim existed: refused only by their short lifetime."""
    user = UserFactory()
    old_style = RefreshToken.for_user(user).access_token
    assert "cv" not in old_style.payload
    assert _me(str(old_style)).status_code == 200


def test_the_database_owns_the_credentials_version():
    user = UserFactory()
    start = User.objects.get(pk=user.pk).credentials_version

    User.objects.filter(pk=user.pk).update(full_name="x", credentials_version=0)
    assert User.objects.get(pk=user.pk).credentials_version == start
    User.objects.filter(pk=user.pk).update(is_active=False)
    User.objects.filter(pk=user.pk).update(is_active=True, credentials_version=start)
    assert User.objects.get(pk=user.pk).credentials_version == start + 2


class UpgradedHasher(MD5PasswordHasher):
    """A cheap 'stronger' hasher: logging in with an MD5 hash makes Django re-hash the password."""

    algorithm = "upgraded_md5"


def test_a_login_that_upgrades_the_password_hash_gets_a_working_session(settings):
    user = UserFactory(email="old-hash@example.com")  # MD5, the tests' hasher
    settings.PASSWORD_HASHERS = [
        "accounts.tests.test_sessions.UpgradedHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]

    session = _api_login(user.email)

    assert User.objects.get(pk=user.pk).password.startswith("upgraded_md5$")
    assert _refresh(session).status_code == 200


def test_issuing_for_a_user_whose_password_changed_since_it_was_checked_is_refused():
    checked = UserFactory()
    changed = User.objects.get(pk=checked.pk)
    changed.set_password(NEW_PASSWORD)
    changed.save()

    with pytest.raises(AuthenticationRejected):
        services.token_pair_issue(user=checked)


# --- Maximum age ---------------------------------------------------------------------------------------------


def _age_family(raw: str, days: float) -> None:
    family = RefreshToken(raw, verify=False)["family"]
    RefreshTokenRecord.objects.filter(family=family).update(family_started_at=timezone.now() - timedelta(days=days))


def test_a_family_older_than_the_maximum_age_is_refused_however_often_it_was_rotated(settings):
    settings.JWT_REFRESH_FAMILY_MAX_DAYS = 30
    user = UserFactory()
    raw = _api_login(user.email)
    for _ in range(3):
        raw = _refresh(raw).json()["refresh"]
    _age_family(raw, days=29.9)
    raw = _refresh(raw).json()["refresh"]  # still young enough
    _age_family(raw, days=30)

    response = _refresh(raw)

    assert response.status_code == 401
    assert response.json()["code"] == "session_expired"
    assert not RefreshTokenRecord.objects.filter(revoked_at__isnull=True).exists()
    _assert_fresh_login_works(user.email, DEFAULT_PASSWORD)


def test_no_refresh_token_expires_after_its_family(settings):
    settings.JWT_REFRESH_FAMILY_MAX_DAYS = 2  # shorter than a token's own 7 days
    user = UserFactory()
    raw = _api_login(user.email)
    _age_family(raw, days=1.5)

    child = _refresh(raw).json()["refresh"]

    record = RefreshTokenRecord.objects.get(jti=RefreshToken(child, verify=False)["jti"])
    assert record.expires_at == record.family_started_at.replace(microsecond=0) + timedelta(days=2)
    assert RefreshToken(child, verify=False)["exp"] == int(record.expires_at.timestamp())


# --- A rotation racing a password change ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_rotation_racing_a_password_change_leaves_no_live_session():
    for _ in range(4):
        user = UserFactory()
        _, raw = services.token_pair_issue(user=user)
        child: list[str] = []

        def rotate(raw=raw):
            with contextlib.suppress(AuthenticationRejected):
                child.append(services.token_refresh_rotate(raw_refresh=raw)[1])

        def change_password(pk=user.pk):
            fresh = User.objects.get(pk=pk)
            fresh.set_password(NEW_PASSWORD)
            fresh.save()

        results = run_together([rotate, change_password])

        assert [result for result in results if isinstance(result, Exception)] == []

        for survivor in child:
            with pytest.raises(AuthenticationRejected):
                services.token_refresh_rotate(raw_refresh=survivor)
