from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import services
from accounts.models import RefreshTokenRecord, User
from accounts.services import AuthenticationRejected
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from bookwise.errors import Forbidden, InvalidInput
from tests.concurrency import run_together

REFRESH_URL = "/api/v1/auth/token/refresh/"
TOKEN_URL = "/api/v1/auth/token/"
REGISTER_URL = "/api/v1/auth/register/"


def _jti(raw: str) -> str:
    return RefreshToken(raw, verify=False)["jti"]


@pytest.mark.django_db
class TestTokenPairIssue:
    def test_opens_a_new_family_with_one_record(self):
        user = UserFactory()

        access, refresh = services.token_pair_issue(user=user)

        record = RefreshTokenRecord.objects.get()
        payload = RefreshToken(refresh)
        assert record.jti == payload["jti"]
        assert record.user == user
        assert str(record.family) == payload["family"]
        assert record.parent_jti == ""
        assert record.used_at is None
        assert record.revoked_at is None
        assert AccessToken(access)["user_id"] == str(user.pk)

    def test_each_login_gets_its_own_family(self):
        user = UserFactory()

        services.token_pair_issue(user=user)
        services.token_pair_issue(user=user)

        assert RefreshTokenRecord.objects.values("family").distinct().count() == 2

    def test_access_token_lives_fifteen_minutes(self):
        access, _ = services.token_pair_issue(user=UserFactory())

        token = AccessToken(access)
        assert token["exp"] - token["iat"] == 15 * 60


@pytest.mark.django_db
class TestTokenRefreshRotate:
    def test_issues_a_child_in_the_same_family_and_retires_the_parent(self):
        _, refresh = services.token_pair_issue(user=UserFactory())

        _, child = services.token_refresh_rotate(raw_refresh=refresh)

        parent_record = RefreshTokenRecord.objects.get(jti=_jti(refresh))
        child_record = RefreshTokenRecord.objects.get(jti=_jti(child))
        assert parent_record.used_at is not None
        assert child_record.family == parent_record.family
        assert child_record.parent_jti == parent_record.jti
        assert BlacklistedToken.objects.filter(token__jti=parent_record.jti).exists()

    def test_reusing_a_rotated_token_revokes_the_whole_family(self):
        _, refresh = services.token_pair_issue(user=UserFactory())
        _, child = services.token_refresh_rotate(raw_refresh=refresh)

        with pytest.raises(AuthenticationRejected) as excinfo:
            services.token_refresh_rotate(raw_refresh=refresh)

        assert excinfo.value.code == "token_reused"
        assert not RefreshTokenRecord.objects.filter(revoked_at__isnull=True).exists()
        assert BlacklistedToken.objects.filter(token__jti=_jti(child)).exists()
        with pytest.raises(AuthenticationRejected):
            services.token_refresh_rotate(raw_refresh=child)

    def test_reuse_leaves_other_sessions_of_the_user_alone(self):
        user = UserFactory()
        _, stolen = services.token_pair_issue(user=user)
        _, other_session = services.token_pair_issue(user=user)
        services.token_refresh_rotate(raw_refresh=stolen)

        with pytest.raises(AuthenticationRejected):
            services.token_refresh_rotate(raw_refresh=stolen)

        services.token_refresh_rotate(raw_refresh=other_session)

    def test_refuses_a_token_issued_without_a_record(self):
        user = UserFactory()
        unrecorded = RefreshToken.for_user(user)
        unrecorded["family"] = "6f1c1a3e-52d5-4a8e-9c5e-6f2b8f0f2d11"

        with pytest.raises(AuthenticationRejected):
            services.token_refresh_rotate(raw_refresh=str(unrecorded))

    def test_refuses_a_user_who_was_deactivated(self):
        user = UserFactory()
        _, refresh = services.token_pair_issue(user=user)
        User.objects.filter(pk=user.pk).update(is_active=False)

        with pytest.raises(AuthenticationRejected):
            services.token_refresh_rotate(raw_refresh=refresh)

    def test_refuses_an_access_token(self):
        access, _ = services.token_pair_issue(user=UserFactory())

        with pytest.raises(AuthenticationRejected):
            services.token_refresh_rotate(raw_refresh=access)

    def test_refuses_an_expired_token(self):
        _, refresh = services.token_pair_issue(user=UserFactory())
        token = RefreshToken(refresh)
        token.set_exp(lifetime=timedelta(seconds=-1))  # re-signed with the same jti and family

        with pytest.raises(AuthenticationRejected):
            services.token_refresh_rotate(raw_refresh=str(token))

    @pytest.mark.parametrize("raw", ["", "garbage", "a.b.c", "x" * 4000])
    def test_refuses_garbage(self, raw):
        with pytest.raises(AuthenticationRejected):
            services.token_refresh_rotate(raw_refresh=raw)


@pytest.mark.django_db
class TestTokenRevoke:
    def test_kills_the_token_and_its_family(self):
        user = UserFactory()
        _, refresh = services.token_pair_issue(user=user)

        services.token_revoke(raw_refresh=refresh, user=user)

        assert RefreshTokenRecord.objects.get().revoked_at is not None
        with pytest.raises(AuthenticationRejected):
            services.token_refresh_rotate(raw_refresh=refresh)

    def test_twice_is_harmless(self):
        user = UserFactory()
        _, refresh = services.token_pair_issue(user=user)
        services.token_revoke(raw_refresh=refresh, user=user)
        first_revoked_at = RefreshTokenRecord.objects.get().revoked_at

        services.token_revoke(raw_refresh=refresh, user=user)

        # A no-op: the first revocation stands as it was, nothing is blacklisted twice.
        assert RefreshTokenRecord.objects.get().revoked_at == first_revoked_at
        assert BlacklistedToken.objects.filter(token__jti=_jti(refresh)).count() == 1
        with pytest.raises(AuthenticationRejected):
            services.token_refresh_rotate(raw_refresh=refresh)

    def test_refuses_another_users_token_and_leaves_it_alive(self):
        owner = UserFactory()
        _, refresh = services.token_pair_issue(user=owner)

        with pytest.raises(Forbidden):
            services.token_revoke(raw_refresh=refresh, user=UserFactory())

        services.token_refresh_rotate(raw_refresh=refresh)

    def test_refuses_an_invalid_token_as_bad_input(self):
        with pytest.raises(InvalidInput):
            services.token_revoke(raw_refresh="garbage", user=UserFactory())


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_refreshes_of_one_token_give_one_success_and_no_surviving_token():
    user = UserFactory()
    _, refresh = services.token_pair_issue(user=user)

    def refresh_once():
        return APIClient().post(REFRESH_URL, {"refresh": refresh}, format="json")

    responses = run_together([refresh_once, refresh_once])

    assert sorted(r.status_code for r in responses) == [200, 401]
    assert RefreshTokenRecord.objects.count() == 2  # the original and exactly one child
    # The loser saw the token already used: reuse, so the winner's child was revoked too.
    child = next(r for r in responses if r.status_code == 200).json()["refresh"]
    assert APIClient().post(REFRESH_URL, {"refresh": child}, format="json").status_code == 401
    assert not RefreshTokenRecord.objects.filter(revoked_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_registrations_of_one_email_create_one_user():
    body = {"email": "twin@example.com", "password": "quiet-otter-harbour-917", "full_name": "Twin"}

    def register():
        return APIClient().post(REGISTER_URL, body, format="json")

    responses = run_together([register, register])

    assert sorted(r.status_code for r in responses) == [201, 400]
    assert User.objects.filter(email="twin@example.com").count() == 1


@pytest.mark.django_db(transaction=True)
def test_login_then_refresh_chain_works_end_to_end():
    UserFactory(email="chain@example.com")
    client = APIClient()
    pair = client.post(TOKEN_URL, {"email": "chain@example.com", "password": DEFAULT_PASSWORD}, format="json").json()

    for _ in range(3):
        response = client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json")
        assert response.status_code == 200
        pair = response.json()

    assert RefreshTokenRecord.objects.values("family").distinct().count() == 1
    assert RefreshTokenRecord.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_reuse_of_two_old_tokens_of_one_family_refuses_both_without_deadlock():
    # Each replay locks its own record and then revokes the family, i.e. needs
    # the other's row: without the family lock this deadlocks in about a
    # quarter of the rounds. Several rounds make a regression visible.
    def replay(raw):
        def call():
            try:
                services.token_refresh_rotate(raw_refresh=raw)
            except AuthenticationRejected as exc:
                return exc.code
            return "accepted"

        return call

    for _ in range(8):
        _, first = services.token_pair_issue(user=UserFactory())
        _, second = services.token_refresh_rotate(raw_refresh=first)
        _, third = services.token_refresh_rotate(raw_refresh=second)

        outcomes = run_together([replay(first), replay(second)])

        assert outcomes == ["token_reused", "token_reused"]
        with pytest.raises(AuthenticationRejected):
            services.token_refresh_rotate(raw_refresh=third)
    assert not RefreshTokenRecord.objects.filter(revoked_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_logout_racing_a_refresh_of_the_same_session_leaves_no_live_token():
    user = UserFactory()
    _, refresh = services.token_pair_issue(user=user)

    def logout():
        services.token_revoke(raw_refresh=refresh, user=user)
        return None

    def rotate():
        try:
            return services.token_refresh_rotate(raw_refresh=refresh)[1]
        except AuthenticationRejected:
            return None

    _, child = run_together([logout, rotate])

    assert not RefreshTokenRecord.objects.filter(revoked_at__isnull=True).exists()
    if child is not None:
        with pytest.raises(AuthenticationRejected):
            services.token_refresh_rotate(raw_refresh=child)
