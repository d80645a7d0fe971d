"""Portal forms for accounts: sign up, log in with an email address, ask for a password reset."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.forms import PasswordResetForm as DjangoPasswordResetForm
from django.db.models.functions import Lower

from accounts.models import User, email_normalize
from bookwise import outbox

PASSWORD_HELP = "At least 8 characters, not a common password, not only digits, not like your name or email."


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form; the username is the email address."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That email and password do not match an account. Check them and try again.",
    }

    def __init__(self, request=None, *args, **kwargs) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget = forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"


class RegisterForm(forms.Form):
    """Input for accounts.services.user_create, plus the usual "type it twice"."""

    full_name = forms.CharField(
        label="Full name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name", "autofocus": True})
    )
    email = forms.EmailField(label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password1 = forms.CharField(
        label="Password",
        strip=False,
        help_text=PASSWORD_HELP,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Confirm password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") and data["password1"] != data["password2"]:
            self.add_error("password2", "The two passwords do not match.")
        return data


class PasswordResetForm(DjangoPasswordResetForm):
    """Django's form, but the email goes out from a Celery task (accounts.tasks.send_password_reset).

    The task gets the user id and a fresh request id, nothing secret: the
    worker makes the token and the link itself. The page reads the same
    whether or not the address has an account, and no longer waits for SMTP.
    """

    def get_users(self, email: str) -> Iterator[User]:
        # LOWER(email) = ... goes through the case-insensitive unique index; Django's
        # email__iexact would scan the users table. The email goes to the stored address.
        users = User.objects.alias(email_lower=Lower("email")).filter(
            email_lower=email_normalize(email), is_active=True
        )
        return (user for user in users if user.has_usable_password())

    def save(self, **kwargs) -> None:
        """Queue one reset email per matching account. Django's mail options (templates, domain) do not apply."""
        from accounts import tasks

        for user in self.get_users(self.cleaned_data["email"]):
            outbox.enqueue(tasks.send_password_reset.name, user.pk, uuid.uuid4().hex)


class ReminderEmailsForm(forms.Form):
    """The account page's one setting (User.reminder_emails)."""

    reminder_emails = forms.BooleanField(
        label="Email me reminders before my bookings and ask how it was afterwards",
        required=False,
        help_text="A reminder the day before and a couple of hours before (as the venue sets them), with the "
        "calendar file; after you attended, a link to write a review.",
    )
