import pytest
from rest_framework.test import APIClient

from accounts.models import Role, User
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from conftest import bearer_client

pytestmark = pytest.mark.django_db

REGISTER_URL = "/api/v1/auth/register/"
TOKEN_URL = "/api/v1/auth/token/"
REFRESH_URL = "/api/v1/auth/token/refresh/"
LOGOUT_URL = "/api/v1/auth/logout/"
ME_URL = "/api/v1/users/me/"

STRONG_PASSWORD = "quiet-otter-harbour-917"


def _login(client: APIClient, user: User) -> dict:
    response = client.post(TOKEN_URL, {"email": user.email, "password": DEFAULT_PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def _bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


class TestRegister:
    def test_creates_a_customer_and_returns_exactly_the_public_fields(self, api_client):
        response = api_client.post(
            REGISTER_URL,
            {"email": "Grace@Example.com", "password": STRONG_PASSWORD, "full_name": "Grace Hopper"},
            format="json",
        )

        assert response.status_code == 201
        body = response.json()
        user = User.objects.get()
        assert body == {"id": user.pk, "email": "grace@example.com", "full_name": "Grace Hopper", "role": "customer"}

    def test_ignores_a_role_sent_by_the_client(self, api_client):
        response = api_client.post(
            REGISTER_URL,
            {
                "email": "sneaky@example.com",
                "password": STRONG_PASSWORD,
                "full_name": "Sneaky",
                "role": "admin",
                "is_staff": True,
                "is_superuser": True,
            },
            format="json",
        )

        assert response.status_code == 201
        assert response.json()["role"] == "customer"
        user = User.objects.get()
        assert user.role == Role.CUSTOMER
        assert not user.is_staff
        assert not user.is_superuser

    def test_registered_user_can_log_in(self, api_client):
        api_client.post(
            REGISTER_URL, {"email": "new@example.com", "password": STRONG_PASSWORD, "full_name": "N"}, format="json"
        )

        response = api_client.post(TOKEN_URL, {"email": "NEW@example.com", "password": STRONG_PASSWORD}, format="json")

        assert response.status_code == 200

    def test_refuses_an_invalid_email(self, api_client):
        response = api_client.post(
            REGISTER_URL, {"email": "not-an-email", "password": STRONG_PASSWORD, "full_name": "X"}, format="json"
        )

        assert response.status_code == 400
        assert "email" in response.json()

    @pytest.mark.parametrize("password", ["short", "password", "123456789012"])
    def test_refuses_a_weak_password(self, api_client, password):
        response = api_client.post(
            REGISTER_URL, {"email": "weak@example.com", "password": password, "full_name": "W"}, format="json"
        )

        assert response.status_code == 400
        assert "password" in response.json()
        assert not User.objects.exists()

    def test_refuses_a_duplicate_email_whatever_its_case(self, api_client):
        UserFactory(email="dup@example.com")

        response = api_client.post(
            REGISTER_URL, {"email": "DUP@example.com", "password": STRONG_PASSWORD, "full_name": "D"}, format="json"
        )

        assert response.status_code == 400
        assert "email" in response.json()
        assert User.objects.count() == 1

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"email": "a@example.com", "password": STRONG_PASSWORD},
            {"email": 123, "password": STRONG_PASSWORD, "full_name": "X"},
            {"email": "a@example.com", "password": ["x"], "full_name": "X"},
            {"email": "a@example.com", "password": STRONG_PASSWORD, "full_name": {"first": "X"}},
            {"email": "a@example.com", "password": STRONG_PASSWORD, "full_name": "X" * 151},
            {"email": None, "password": None, "full_name": None},
            [1, 2, 3],
            "just a string",
        ],
    )
    def test_refuses_missing_fields_and_wrong_types_with_400(self, api_client, body):
        response = api_client.post(REGISTER_URL, body, format="json")

        assert response.status_code == 400
        assert not User.objects.exists()

    def test_refuses_malformed_json_with_400(self, api_client):
        response = api_client.post(REGISTER_URL, '{"email": "a@example.com",', content_type="application/json")

        assert response.status_code == 400


class TestTokenObtain:
    def test_returns_an_access_and_a_refresh_token(self, api_client):
        user = UserFactory()

        response = api_client.post(TOKEN_URL, {"email": user.email, "password": DEFAULT_PASSWORD}, format="json")

        assert response.status_code == 200
        assert set(response.json()) == {"access", "refresh"}

    def test_access_token_authenticates_the_user(self, api_client):
        user = UserFactory()
        pair = _login(api_client, user)

        response = _bearer(pair["access"]).get(ME_URL)

        assert response.status_code == 200
        assert response.json()["id"] == user.pk

    def test_accepts_the_email_in_any_case(self, api_client):
        user = UserFactory(email="case@example.com")

        response = api_client.post(
            TOKEN_URL, {"email": "CASE@Example.com", "password": DEFAULT_PASSWORD}, format="json"
        )

        assert response.status_code == 200
        assert response.json()["access"]
        assert user.refresh_tokens.count() == 1

    def test_refuses_a_wrong_password_with_401_and_a_bearer_challenge(self, api_client):
        user = UserFactory()

        response = api_client.post(TOKEN_URL, {"email": user.email, "password": "wrong-password"}, format="json")

        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert "access" not in response.json()

    @pytest.mark.parametrize("email", ["nobody@example.com", "not-an-email"])
    def test_refuses_an_unknown_email_with_401(self, api_client, email):
        UserFactory()

        response = api_client.post(TOKEN_URL, {"email": email, "password": DEFAULT_PASSWORD}, format="json")

        assert response.status_code == 401

    def test_refuses_an_inactive_user_with_401(self, api_client):
        user = UserFactory(is_active=False)

        response = api_client.post(TOKEN_URL, {"email": user.email, "password": DEFAULT_PASSWORD}, format="json")

        assert response.status_code == 401

    @pytest.mark.parametrize(
        "body", [{}, {"email": "a@example.com"}, {"password": "x"}, {"email": ["a"], "password": "x"}, [], 42]
    )
    def test_refuses_missing_fields_and_wrong_types_with_400(self, api_client, body):
        response = api_client.post(TOKEN_URL, body, format="json")

        assert response.status_code == 400

    def test_refuses_malformed_json_with_400(self, api_client):
        response = api_client.post(TOKEN_URL, "{not json", content_type="application/json")

        assert response.status_code == 400


class TestTokenRefresh:
    def test_returns_a_new_pair(self, api_client):
        pair = _login(api_client, UserFactory())

        response = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json")

        assert response.status_code == 200
        new_pair = response.json()
        assert set(new_pair) == {"access", "refresh"}
        assert new_pair["refresh"] != pair["refresh"]
        assert _bearer(new_pair["access"]).get(ME_URL).status_code == 200

    def test_the_old_refresh_token_is_dead_after_rotation(self, api_client):
        pair = _login(api_client, UserFactory())
        api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json")

        response = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json")

        assert response.status_code == 401

    def test_reusing_an_old_token_kills_the_token_issued_from_it(self, api_client):
        pair = _login(api_client, UserFactory())
        child = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json").json()

        reuse = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json")
        child_refresh = api_client.post(REFRESH_URL, {"refresh": child["refresh"]}, format="json")

        assert reuse.status_code == 401
        assert child_refresh.status_code == 401

    def test_reuse_deep_in_the_chain_kills_the_latest_token(self, api_client):
        first = _login(api_client, UserFactory())
        second = api_client.post(REFRESH_URL, {"refresh": first["refresh"]}, format="json").json()
        third = api_client.post(REFRESH_URL, {"refresh": second["refresh"]}, format="json").json()

        assert api_client.post(REFRESH_URL, {"refresh": first["refresh"]}, format="json").status_code == 401
        assert api_client.post(REFRESH_URL, {"refresh": third["refresh"]}, format="json").status_code == 401

    def test_refuses_an_invalid_token_with_401(self, api_client):
        response = api_client.post(REFRESH_URL, {"refresh": "not.a.token"}, format="json")

        assert response.status_code == 401
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_refuses_an_access_token_with_401(self, api_client):
        pair = _login(api_client, UserFactory())

        response = api_client.post(REFRESH_URL, {"refresh": pair["access"]}, format="json")

        assert response.status_code == 401

    def test_refuses_a_deactivated_user_with_401(self, api_client):
        user = UserFactory()
        pair = _login(api_client, user)
        User.objects.filter(pk=user.pk).update(is_active=False)

        response = api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json")

        assert response.status_code == 401

    @pytest.mark.parametrize("body", [{}, {"refresh": None}, {"refresh": ["a"]}, {"refresh": ""}, []])
    def test_refuses_missing_or_mistyped_input_with_400(self, api_client, body):
        response = api_client.post(REFRESH_URL, body, format="json")

        assert response.status_code == 400


class TestLogout:
    def test_answers_205_and_the_refresh_token_is_dead_afterwards(self, api_client):
        user = UserFactory()
        pair = _login(api_client, user)

        response = _bearer(pair["access"]).post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json")

        assert response.status_code == 205
        assert api_client.post(REFRESH_URL, {"refresh": pair["refresh"]}, format="json").status_code == 401

    def test_refuses_another_users_refresh_token_and_leaves_it_alive(self, api_client):
        victim_pair = _login(api_client, UserFactory())
        attacker = UserFactory()

        response = bearer_client(attacker).post(LOGOUT_URL, {"refresh": victim_pair["refresh"]}, format="json")

        assert response.status_code == 403
        assert api_client.post(REFRESH_URL, {"refresh": victim_pair["refresh"]}, format="json").status_code == 200

    def test_requires_authentication(self, api_client):
        pair = _login(api_client, UserFactory())

        response = api_client.post(LOGOUT_URL, {"refresh": pair["refresh"]}, format="json")

        assert response.status_code == 401

    @pytest.mark.parametrize("body", [{}, {"refresh": "garbage"}, {"refresh": 5.5}, []])
    def test_refuses_a_missing_or_invalid_token_with_400(self, customer_client, body):
        response = customer_client.post(LOGOUT_URL, body, format="json")

        assert response.status_code == 400


class TestMe:
    def test_returns_the_callers_public_fields(self, customer, customer_client):
        response = customer_client.get(ME_URL)

        assert response.status_code == 200
        assert response.json() == {
            "id": customer.pk,
            "email": customer.email,
            "full_name": customer.full_name,
            "role": "customer",
            "reminder_emails": True,
        }

    def test_reports_a_superuser_as_admin(self):
        boss = User.objects.create_superuser(email="boss@example.com", password=STRONG_PASSWORD)

        response = bearer_client(boss).get(ME_URL)

        assert response.json()["role"] == "admin"

    def test_reports_a_staff_member_by_their_role_not_as_admin(self):
        staff = UserFactory(is_staff=True, role=Role.CUSTOMER)

        response = bearer_client(staff).get(ME_URL)

        assert response.json()["role"] == "customer"

    def test_requires_authentication(self, api_client):
        assert api_client.get(ME_URL).status_code == 401

    def test_patch_changes_the_full_name(self, customer, customer_client):
        response = customer_client.patch(ME_URL, {"full_name": "Renamed Person"}, format="json")

        assert response.status_code == 200
        assert response.json()["full_name"] == "Renamed Person"
        customer.refresh_from_db()
        assert customer.full_name == "Renamed Person"

    def test_patch_ignores_role_and_email(self, customer, customer_client):
        original_email = customer.email

        response = customer_client.patch(
            ME_URL, {"role": "admin", "email": "new@example.com", "is_staff": True}, format="json"
        )

        assert response.status_code == 200
        assert response.json()["role"] == "customer"
        customer.refresh_from_db()
        assert customer.role == Role.CUSTOMER
        assert customer.email == original_email
        assert not customer.is_staff

    @pytest.mark.parametrize("body", [{"full_name": ["x"]}, {"full_name": "x" * 151}, {"full_name": None}, [1]])
    def test_patch_refuses_invalid_input_with_400(self, customer_client, body):
        response = customer_client.patch(ME_URL, body, format="json")

        assert response.status_code == 400

    def test_put_is_not_allowed(self, customer_client):
        assert customer_client.put(ME_URL, {"full_name": "X"}, format="json").status_code == 405


def test_schema_documents_the_auth_endpoints(api_client):
    response = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (REGISTER_URL, TOKEN_URL, REFRESH_URL, LOGOUT_URL, ME_URL):
        assert path in paths
    assert {"200", "400", "401", "429"} <= set(paths[TOKEN_URL]["post"]["responses"])
