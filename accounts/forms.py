"""Portal forms for accounts: sign up, and log in with an email address."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm

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
