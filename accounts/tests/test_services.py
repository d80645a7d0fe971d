import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management import call_command

from accounts import services
from accounts.models import Role, User
from accounts.tests.factories import DEFAULT_PASSWORD, AdminFactory, UserFactory
from bookwise.errors import Forbidden, InvalidInput

pytestmark = pytest.mark.django_db

STRONG_PASSWORD = "quiet-otter-harbour-917"


def test_user_create_stores_the_email_lowercased_with_a_usable_password():
    user = services.user_create(email="  Ada.Lovelace@Example.COM ", password=STRONG_PASSWORD, full_name="Ada")

    user.refresh_from_db()
    assert user.email == "ada.lovelace@example.com"
    assert user.full_name == "Ada"
    assert user.check_password(STRONG_PASSWORD)
    assert user.is_active
    assert not user.is_staff
    assert not user.is_superuser


def test_user_create_gives_every_new_user_the_customer_role():
    user = services.user_create(email="new@example.com", password=STRONG_PASSWORD, full_name="New")

    assert user.role == Role.CUSTOMER
    assert user.effective_role == Role.CUSTOMER


def test_user_create_refuses_an_email_that_differs_only_in_case():
    UserFactory(email="taken@example.com")

    with pytest.raises(InvalidInput) as excinfo:
        services.user_create(email="TAKEN@Example.com", password=STRONG_PASSWORD, full_name="Copy")

    assert excinfo.value.field == "email"
    assert excinfo.value.code == "email_taken"
    assert User.objects.count() == 1


def test_user_create_turns_a_lost_uniqueness_race_into_a_validation_error(monkeypatch):
    # As if a concurrent registration committed between the check and the insert.
    UserFactory(email="race@example.com")
    monkeypatch.setattr(services, "_email_registered", lambda email: False)

    with pytest.raises(InvalidInput) as excinfo:
        services.user_create(email="Race@example.com", password=STRONG_PASSWORD, full_name="Racer")

    assert excinfo.value.field == "email"
    assert User.objects.count() == 1


@pytest.mark.parametrize("password", ["short1", "password123", "12345678901234", ""])
def test_user_create_refuses_weak_passwords_under_the_password_key(password):
    with pytest.raises(DjangoValidationError) as excinfo:
        services.user_create(email="weak@example.com", password=password, full_name="Weak")

    assert set(excinfo.value.message_dict) == {"password"}
    assert not User.objects.exists()


def test_user_create_refuses_an_invalid_email_under_the_email_key():
    with pytest.raises(DjangoValidationError) as excinfo:
        services.user_create(email="no-at-sign", password=STRONG_PASSWORD, full_name="X")

    assert set(excinfo.value.message_dict) == {"email"}


def test_user_create_refuses_a_password_resembling_the_email():
    with pytest.raises(DjangoValidationError) as excinfo:
        services.user_create(email="margarethamilton@example.com", password="margarethamilton", full_name="M")

    assert "password" in excinfo.value.message_dict


def test_createsuperuser_path_lowercases_email_and_counts_as_admin():
    boss = User.objects.create_superuser(email="Boss@Example.com", password=STRONG_PASSWORD, full_name="Boss")

    assert boss.email == "boss@example.com"
    assert boss.is_staff
    assert boss.is_superuser
    assert boss.effective_role == Role.ADMIN


def test_createsuperuser_command_creates_an_admin(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", STRONG_PASSWORD)

    call_command("createsuperuser", interactive=False, email="Root@Example.com", full_name="Root", verbosity=0)

    root = User.objects.get(email="root@example.com")
    assert root.is_superuser
    assert root.role == Role.ADMIN
    assert root.check_password(STRONG_PASSWORD)


def test_staff_status_alone_does_not_make_an_api_admin():
    staff = UserFactory(is_staff=True, role=Role.CUSTOMER)

    assert not staff.is_platform_admin
    assert staff.effective_role == Role.CUSTOMER


@pytest.mark.parametrize(
    ("role", "is_superuser"), [(Role.ADMIN, False), (Role.CUSTOMER, True)], ids=["admin-role", "superuser"]
)
def test_the_admin_role_or_superuser_status_makes_an_api_admin(role, is_superuser):
    user = UserFactory(role=role, is_superuser=is_superuser)

    assert user.is_platform_admin
    assert user.effective_role == Role.ADMIN


def test_plain_staff_may_not_change_roles():
    staff = UserFactory(is_staff=True)

    with pytest.raises(Forbidden):
        services.user_set_role(user=UserFactory(), role=Role.ADMIN, actor=staff)


@pytest.mark.parametrize(
    "spelling",
    [
        "alice@example.com",
        "ALICE@example.com",
        " Alice@Example.COM ",
        "\uff21lice@Example.com",
        "alice@\uff45xample.com",
    ],
)
def test_email_normalize_folds_case_and_unicode_compatibility_variants(spelling):
    assert services.email_normalize(spelling) == "alice@example.com"


def test_login_lookup_and_registration_use_the_normalised_address():
    user = services.user_create(email="bob@\uff45xample.com", password=STRONG_PASSWORD, full_name="Bob")

    assert user.email == "bob@example.com"
    assert User.objects.get_by_natural_key("\uff22OB@example.com") == user


def test_login_lookup_by_email_ignores_case():
    user = UserFactory(email="mixed@example.com")

    assert User.objects.get_by_natural_key("MIXED@example.COM") == user


def test_user_set_role_by_an_admin_changes_the_role():
    user = UserFactory()

    services.user_set_role(user=user, role=Role.ADMIN, actor=AdminFactory())

    user.refresh_from_db()
    assert user.role == Role.ADMIN


def test_user_set_role_refuses_an_actor_who_is_not_an_admin():
    user = UserFactory()

    with pytest.raises(Forbidden):
        services.user_set_role(user=user, role=Role.ADMIN, actor=UserFactory())

    user.refresh_from_db()
    assert user.role == Role.CUSTOMER


def test_user_set_role_refuses_an_unknown_role():
    with pytest.raises(InvalidInput):
        services.user_set_role(user=UserFactory(), role="overlord")


def test_user_update_profile_changes_only_the_full_name():
    user = UserFactory(full_name="Old Name")

    services.user_update_profile(user=user, full_name="New Name")

    user.refresh_from_db()
    assert user.full_name == "New Name"
    assert user.check_password(DEFAULT_PASSWORD)
