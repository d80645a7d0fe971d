"""Portal account pages through Django's test client: sign up, log in/out, password change and reset."""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

REGISTER_URL = reverse("portal:register")
LOGIN_URL = reverse("portal:login")
LOGOUT_URL = reverse("portal:logout")
PASSWORD_CHANGE_URL = reverse("portal:password-change")
PASSWORD_RESET_URL = reverse("portal:password-reset")
NEW_PASSWORD = "a-brand-new-passphrase-77"


def logged_in_user_id(client: Client):
    return client.session.get(SESSION_KEY)


def register_data(**overrides) -> dict:
    return {
        "full_name": "Ana Lima",
        "email": "Ana@Example.com",
        "password1": "quiet-otter-sings-42",
        "password2": "quiet-otter-sings-42",
        **overrides,
    }


# --- Register ---------------------------------------------------------------------------------


def test_register_page_has_labelled_fields(client):
    response = client.get(REGISTER_URL)

    assert response.status_code == 200
    html = response.content.decode()
    for field, label in [
        ("full_name", "Full name"),
        ("email", "Email"),
        ("password1", "Password"),
        ("password2", "Confirm password"),
    ]:
        assert f'<label for="id_{field}">{label}' in html
    assert ">Create account</button>" in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_register_creates_the_account_through_the_service_and_logs_in(client):
    response = client.post(REGISTER_URL, register_data())

    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get()
    assert user.email == "ana@example.com"  # normalised by user_create
    assert user.full_name == "Ana Lima"
    assert user.check_password("quiet-otter-sings-42")
    assert str(logged_in_user_id(client)) == str(user.pk)


def test_register_returns_to_next(client):
    response = client.post(f"{REGISTER_URL}?next=/themes/7/", register_data())

    assert response["Location"] == "/themes/7/"


def test_register_ignores_a_next_pointing_elsewhere(client):
    response = client.post(REGISTER_URL, {**register_data(), "next": "https://evil.example/"})

    assert response["Location"] == "/"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"password1": "short", "password2": "short"}, "This password is too short."),
        ({"password1": "12345678901", "password2": "12345678901"}, "This password is entirely numeric."),
        ({"password2": "something-else-99"}, "The two passwords do not match."),
        ({"full_name": ""}, "This field is required."),
    ],
)
def test_bad_registration_rerenders_with_the_error(client, overrides, error):
    response = client.post(REGISTER_URL, register_data(**overrides))

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not User.objects.exists()
    assert logged_in_user_id(client) is None


def test_registering_a_taken_email_says_so(client):
    UserFactory(email="ana@example.com")

    response = client.post(REGISTER_URL, register_data(email="ANA@example.com"))

    assert response.status_code == 200
    assert "A user with this email address already exists." in response.content.decode()
    assert User.objects.count() == 1


# --- Log in and out -------------------------------------------------------------------------------


def test_login_page_labels_email_and_password(client):
    html = client.get(LOGIN_URL).content.decode()

    assert '<label for="id_username">Email' in html
    assert '<label for="id_password">Password' in html
    assert 'type="email"' in html
    assert ">Log in</button>" in html


def test_login_with_email_and_password_respects_next(client):
    user = UserFactory(email="bo@example.com")

    response = client.post(
        f"{LOGIN_URL}?next=/bookings/",
        {"username": "BO@example.com", "password": DEFAULT_PASSWORD, "next": "/bookings/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/bookings/"
    assert str(logged_in_user_id(client)) == str(user.pk)


def test_login_form_keeps_next_from_the_query_string(client):
    html = client.get(LOGIN_URL, {"next": "/bookings/"}).content.decode()

    assert '<input type="hidden" name="next" value="/bookings/">' in html


def test_wrong_password_rerenders_the_login_form(client):
    UserFactory(email="bo@example.com")

    response = client.post(LOGIN_URL, {"username": "bo@example.com", "password": "wrong"})

    assert response.status_code == 200
    assert "That email and password do not match an account." in response.content.decode()
    assert logged_in_user_id(client) is None


def test_logout_needs_post_and_logs_out(client, customer):
    client.force_login(customer)

    page = client.get(LOGOUT_URL)
    assert page.status_code == 200
    assert ">Log out</button>" in page.content.decode()
    assert logged_in_user_id(client) is not None

    response = client.post(LOGOUT_URL)

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert logged_in_user_id(client) is None


def test_login_and_logout_forms_need_csrf_tokens(customer):
    client = Client(enforce_csrf_checks=True)

    assert client.post(LOGIN_URL, {"username": customer.email, "password": DEFAULT_PASSWORD}).status_code == 403


def test_pages_show_log_in_and_sign_up_links_to_visitors_and_log_out_to_members(client, customer):
    anonymous = client.get(reverse("portal:catalog")).content.decode()
    assert f'href="{LOGIN_URL}"' in anonymous
    assert f'href="{REGISTER_URL}"' in anonymous

    client.force_login(customer)
    member = client.get(reverse("portal:catalog")).content.decode()
    assert f'action="{LOGOUT_URL}"' in member
    assert f'href="{reverse("portal:my-bookings")}"' in member


# --- Password change --------------------------------------------------------------------------------


def test_password_change_needs_an_account(client):
    response = client.get(PASSWORD_CHANGE_URL)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN_URL}?next={PASSWORD_CHANGE_URL}"


def test_password_change_with_a_wrong_old_password_rerenders(client, customer):
    client.force_login(customer)

    response = client.post(
        PASSWORD_CHANGE_URL,
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert "Your old password was entered incorrectly." in response.content.decode()


def test_password_change_sets_the_new_password_and_keeps_me_logged_in(client, customer):
    client.force_login(customer)
    page = client.get(PASSWORD_CHANGE_URL).content.decode()
    assert '<label for="id_old_password">Old password' in page

    response = client.post(
        PASSWORD_CHANGE_URL,
        {"old_password": DEFAULT_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )

    assert response.redirect_chain == [(reverse("portal:password-change-done"), 302)]
    assert "Your password is changed." in response.content.decode()
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)
    assert logged_in_user_id(client) is not None


# --- Password reset -----------------------------------------------------------------------------------


def test_password_reset_emails_a_link_to_the_account_and_the_link_sets_a_new_password(
    client, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://bookwise.example"
    user = UserFactory(email="cy@example.com", full_name="Cy Rose")

    with django_capture_on_commit_callbacks(execute=True):  # the email is sent by a task, after commit
        response = client.post(PASSWORD_RESET_URL, {"email": "cy@example.com"})

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:password-reset-done")
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == ["cy@example.com"]
    assert email.subject == "Reset your BookWise password"
    assert "Hello Cy Rose" in email.body
    html_body = email.alternatives[0][0]
    link = re.search(r"https://bookwise\.example(/accounts/password/reset/[^/\s]+/[^/\s]+/)", email.body).group(1)
    assert link in html_body

    form_page = client.get(link, follow=True)  # Django swaps the token for a session and redirects
    assert form_page.status_code == 200
    assert '<label for="id_new_password1">New password' in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True
    )

    assert done.redirect_chain[-1][0] == reverse("portal:password-reset-complete")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    # The link works once.
    again = client.get(link, follow=True)
    assert "This reset link is invalid or was already used." in again.content.decode()


def test_password_reset_for_an_unknown_address_sends_nothing_but_looks_the_same(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(PASSWORD_RESET_URL, {"email": "nobody@example.com"})

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:password-reset-done")
    assert mailoutbox == []


def test_password_reset_with_a_bad_address_rerenders(client, mailoutbox):
    response = client.post(PASSWORD_RESET_URL, {"email": "not an email"})

    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert mailoutbox == []


def test_password_reset_confirm_with_a_bad_new_password_rerenders(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    UserFactory(email="cy@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(PASSWORD_RESET_URL, {"email": "cy@example.com"})
    link = re.search(r"(/accounts/password/reset/[^/\s]+/[^/\s]+/)", mailoutbox[0].body).group(1)
    form_page = client.get(link, follow=True)

    response = client.post(form_page.redirect_chain[-1][0], {"new_password1": "abc", "new_password2": "abd"})

    assert response.status_code == 200
    assert "The two password fields didn’t match." in response.content.decode()


def _set_rates(settings, **rates):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def test_portal_login_is_throttled_per_email_and_then_refuses_the_right_password(client, settings):
    from accounts.tests.factories import DEFAULT_PASSWORD, UserFactory

    _set_rates(settings, login_email="3/minute", login="100/minute")
    user = UserFactory()
    for _ in range(3):
        response = client.post("/accounts/login/", {"username": user.email, "password": "wrong-password"})
        assert response.status_code == 200
    blocked = client.post("/accounts/login/", {"username": user.email, "password": DEFAULT_PASSWORD})
    assert blocked.status_code == 429
    assert "Too many login attempts" in blocked.content.decode()
    assert "_auth_user_id" not in client.session


def test_portal_and_api_share_the_login_budget(client, api_client, settings):
    from accounts.tests.factories import UserFactory

    _set_rates(settings, login_email="2/minute", login="100/minute")
    user = UserFactory()
    for _ in range(2):
        api_client.post("/api/v1/auth/token/", {"email": user.email, "password": "nope"}, format="json")
    assert client.post("/accounts/login/", {"username": user.email, "password": "nope"}).status_code == 429


def test_portal_sign_up_is_throttled_per_ip(client, settings):
    _set_rates(settings, register="2/hour", register_email="100/hour")
    for i in range(2):
        client.post("/accounts/register/", {"email": f"x{i}@example.com"})
    response = client.post(
        "/accounts/register/",
        {
            "email": "new@example.com",
            "full_name": "New",
            "password1": "a-long-pass-phrase-42",
            "password2": "a-long-pass-phrase-42",
        },
    )
    assert response.status_code == 429
    assert "Too many sign-up attempts" in response.content.decode()


# --- Password reset: throttled per IP and per address, silently ---------------------------------------------


def _reset(client: Client, email: str):
    return client.post(PASSWORD_RESET_URL, {"email": email})


def _without_csrf_token(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def test_password_reset_is_throttled_per_address_across_ips(settings, mailoutbox, django_capture_on_commit_callbacks):
    _set_rates(settings, password_reset_email="2/hour", password_reset="100/hour")
    UserFactory(email="vic@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        statuses = [_reset(Client(REMOTE_ADDR=f"198.51.100.{i}"), "vic@example.com").status_code for i in (1, 2)]
        blocked = _reset(Client(REMOTE_ADDR="198.51.100.3"), "VIC@example.com")

    assert statuses == [302, 302]
    assert blocked.status_code == 429
    assert int(blocked["Retry-After"]) > 0
    assert "Too many password reset requests. Try again in" in blocked.content.decode()
    assert len(mailoutbox) == 2


def test_a_throttled_password_reset_looks_the_same_for_an_address_without_an_account(
    settings, mailoutbox, django_capture_on_commit_callbacks
):
    _set_rates(settings, password_reset_email="1/hour", password_reset="100/hour")
    UserFactory(email="vic@example.com")
    pages = {}
    for email in ("vic@example.com", "nobody@example.com"):
        client = Client()
        with django_capture_on_commit_callbacks(execute=True):
            first = _reset(client, email)
            second = _reset(client, email)
        assert (first.status_code, first["Location"]) == (302, reverse("portal:password-reset-done"))
        assert second.status_code == 429
        pages[email] = _without_csrf_token(second.content.decode()).replace(email, "<address>")

    assert pages["vic@example.com"] == pages["nobody@example.com"]
    assert len(mailoutbox) == 1


def test_password_reset_is_throttled_per_ip_across_addresses(settings, mailoutbox):
    _set_rates(settings, password_reset="2/hour", password_reset_email="100/hour")
    client = Client(REMOTE_ADDR="203.0.113.77")

    statuses = [_reset(client, f"someone{i}@example.com").status_code for i in range(3)]

    assert statuses == [302, 302, 429]
    assert _reset(Client(REMOTE_ADDR="203.0.113.78"), "someone9@example.com").status_code == 302


def test_unicode_variants_of_an_address_share_its_reset_budget(
    settings, mailoutbox, django_capture_on_commit_callbacks
):
    _set_rates(settings, password_reset_email="3/hour", password_reset="100/hour")
    UserFactory(email="alice@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        statuses = [
            _reset(Client(REMOTE_ADDR=f"198.51.100.{i}"), email).status_code
            for i, email in enumerate(
                [
                    "\uff21lice@example.com",  # fullwidth A: not a valid address, counted all the same
                    "alice@\uff45xample.com",  # fullwidth e in the domain: valid, alice's account
                    "ALICE@example.com",
                    "alice@example.com",
                ]
            )
        ]

    assert statuses == [200, 302, 302, 429]
    assert [m.to for m in mailoutbox] == [["alice@example.com"], ["alice@example.com"]]


def test_password_reset_links_last_one_hour(settings):
    from django.contrib.auth.tokens import default_token_generator

    assert settings.PASSWORD_RESET_TIMEOUT == 3600
    user = UserFactory()
    generator = default_token_generator
    now = generator._num_seconds(generator._now())

    def token_made_seconds_ago(seconds: int) -> str:
        return generator._make_token_with_timestamp(user, now - seconds, generator.secret)

    assert generator.check_token(user, token_made_seconds_ago(3590))
    assert not generator.check_token(user, token_made_seconds_ago(3610))


def test_the_admin_link_shows_for_staff_who_can_use_django_admin(client):
    from accounts.models import Role

    client.force_login(UserFactory(is_staff=True))
    assert 'href="/admin/"' in client.get(reverse("portal:catalog")).content.decode()

    client.force_login(UserFactory(role=Role.ADMIN))  # an API admin without Django admin access
    assert 'href="/admin/"' not in client.get(reverse("portal:catalog")).content.decode()
