import pytest
from django.test import Client

from accounts import services
from accounts.models import RefreshTokenRecord, Role, User
from accounts.tests.factories import AdminFactory, UserFactory

pytestmark = pytest.mark.django_db

USERS_URL = "/admin/accounts/user/"
RECORDS_URL = "/admin/accounts/refreshtokenrecord/"
STRONG_PASSWORD = "quiet-otter-harbour-917"


@pytest.fixture
def admin_browser() -> Client:
    client = Client()
    client.force_login(AdminFactory())
    return client


def _change_form(user: User, **overrides) -> dict:
    data = {
        "email": user.email,
        "full_name": user.full_name,
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
    }
    data.update(overrides)
    return data


def test_user_changelist_lists_users(admin_browser):
    user = UserFactory(email="listed@example.com")

    response = admin_browser.get(USERS_URL)

    assert response.status_code == 200
    assert user.email in response.content.decode()


@pytest.mark.parametrize("term", ["FIND.ME@example.com", "Findable", "find.me"])
def test_user_changelist_finds_a_user_by_exact_email_or_part_of_the_name(admin_browser, term):
    UserFactory(email="find.me@example.com", full_name="Findable Person")
    UserFactory(email="other@example.com", full_name="Someone Else")

    response = admin_browser.get(USERS_URL, {"q": term})

    content = response.content.decode()
    assert "find.me@example.com" in content
    assert "other@example.com" not in content


def test_user_changelist_finds_a_user_by_id(admin_browser):
    user = UserFactory(email="by.id@example.com")

    response = admin_browser.get(USERS_URL, {"q": str(user.pk)})

    assert "by.id@example.com" in response.content.decode()


def test_admin_add_form_creates_a_customer_with_a_lowercased_email(admin_browser):
    response = admin_browser.post(
        f"{USERS_URL}add/",
        {
            "email": "Added@Example.com",
            "full_name": "Added",
            "password1": STRONG_PASSWORD,
            "password2": STRONG_PASSWORD,
        },
    )

    assert response.status_code == 302, response.content.decode()
    user = User.objects.get(email="added@example.com")
    assert user.check_password(STRONG_PASSWORD)
    assert user.role == Role.CUSTOMER


def test_admin_add_form_refuses_a_duplicate_email_in_another_case(admin_browser):
    UserFactory(email="dup@example.com")

    response = admin_browser.post(
        f"{USERS_URL}add/",
        {"email": "DUP@example.com", "full_name": "", "password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD},
    )

    assert response.status_code == 200
    assert User.objects.filter(email__iexact="dup@example.com").count() == 1


def test_admin_add_form_refuses_a_weak_password(admin_browser):
    response = admin_browser.post(
        f"{USERS_URL}add/", {"email": "weak@example.com", "full_name": "", "password1": "123", "password2": "123"}
    )

    assert response.status_code == 200
    assert not User.objects.filter(email="weak@example.com").exists()


def test_admin_change_form_saves_profile_but_not_the_role(admin_browser):
    user = UserFactory(email="change@example.com")

    response = admin_browser.post(
        f"{USERS_URL}{user.pk}/change/", _change_form(user, full_name="Changed Name", role="admin")
    )

    assert response.status_code == 302, response.content.decode()
    user.refresh_from_db()
    assert user.full_name == "Changed Name"
    assert user.role == Role.CUSTOMER


def test_admin_change_form_page_renders(admin_browser):
    user = UserFactory()

    assert admin_browser.get(f"{USERS_URL}{user.pk}/change/").status_code == 200


def test_make_admin_and_make_customer_actions_change_roles(admin_browser):
    users = UserFactory.create_batch(2)
    ids = [str(user.pk) for user in users]

    admin_browser.post(USERS_URL, {"action": "make_admin", "_selected_action": ids})
    assert set(User.objects.filter(pk__in=ids).values_list("role", flat=True)) == {Role.ADMIN}

    admin_browser.post(USERS_URL, {"action": "make_customer", "_selected_action": ids})
    assert set(User.objects.filter(pk__in=ids).values_list("role", flat=True)) == {Role.CUSTOMER}


def test_refresh_token_records_are_visible_but_read_only(admin_browser):
    user = UserFactory(email="tokens@example.com")
    services.token_pair_issue(user=user)
    record = RefreshTokenRecord.objects.get()

    listing = admin_browser.get(RECORDS_URL, {"q": "TOKENS@example.com"})
    detail = admin_browser.get(f"{RECORDS_URL}{record.pk}/change/")
    add = admin_browser.get(f"{RECORDS_URL}add/")
    edit = admin_browser.post(f"{RECORDS_URL}{record.pk}/change/", {"jti": "forged"})

    assert listing.status_code == 200
    assert record.jti in listing.content.decode()
    assert detail.status_code == 200
    assert add.status_code == 403
    assert edit.status_code == 403
    record.refresh_from_db()
    assert record.jti != "forged"


# --- Plain staff act within their Django permissions -----------------------------------------------------------


def _staff_browser(*codenames: str) -> tuple[Client, User]:
    from django.contrib.auth.models import Permission

    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="accounts", codename__in=codenames))
    client = Client()
    client.force_login(staff)
    return client, staff


def test_plain_staff_cannot_grant_superuser_status_or_permissions_even_to_themselves():
    from django.contrib.auth.models import Permission

    client, staff = _staff_browser("view_user", "change_user")
    page = client.get(f"{USERS_URL}{staff.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page
    assert 'name="user_permissions"' not in page
    assert 'name="groups"' not in page

    everything = Permission.objects.values_list("pk", flat=True)
    response = client.post(
        f"{USERS_URL}{staff.pk}/change/",
        _change_form(staff, is_staff="on", is_superuser="on", user_permissions=list(everything)),
    )

    assert response.status_code == 302, response.content.decode()
    staff.refresh_from_db()
    assert not staff.is_superuser
    assert staff.user_permissions.count() == 2


def test_plain_staff_cannot_change_an_admins_account_or_password():
    client, _ = _staff_browser("view_user", "change_user", "delete_user")
    boss = AdminFactory()

    assert client.post(f"{USERS_URL}{boss.pk}/change/", _change_form(boss, email="mine@example.com")).status_code == 403
    assert (
        client.post(
            f"{USERS_URL}{boss.pk}/password/",
            {"password1": STRONG_PASSWORD, "password2": STRONG_PASSWORD, "usable_password": "true"},
        ).status_code
        == 403
    )
    assert client.post(f"{USERS_URL}{boss.pk}/delete/", {"post": "yes"}).status_code == 403
    boss.refresh_from_db()
    assert boss.email != "mine@example.com"
    assert not boss.check_password(STRONG_PASSWORD)


def test_plain_staff_cannot_make_anyone_an_api_admin():
    client, _ = _staff_browser("view_user", "change_user")
    user = UserFactory()

    client.post(USERS_URL, {"action": "make_admin", "_selected_action": [str(user.pk)]})

    user.refresh_from_db()
    assert user.role == Role.CUSTOMER


def test_a_superuser_still_edits_everything(admin_browser):
    user = UserFactory()

    response = admin_browser.post(f"{USERS_URL}{user.pk}/change/", _change_form(user, is_staff="on", is_superuser="on"))

    assert response.status_code == 302, response.content.decode()
    user.refresh_from_db()
    assert user.is_superuser
