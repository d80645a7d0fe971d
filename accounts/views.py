"""Portal account pages: sign up, log in and out, change or reset a password.

Sign-up goes through accounts.services.user_create (the API's rules: Django's
password validators, one account per email). The rest are Django's auth views
with our templates; the password-reset email is sent by a Celery task (accounts.forms).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from accounts.forms import EmailAuthenticationForm, PasswordResetForm, RegisterForm
from accounts.services import user_create
from accounts.throttles import (
    LoginEmailThrottle,
    LoginIPThrottle,
    RegisterEmailThrottle,
    RegisterIPThrottle,
    form_attempt_wait,
)
from bookwise.errors import DomainError
from bookwise.web import form_add_domain_error

# user_create's field names -> the form's.
_REGISTER_FIELDS = {"password": "password1", "email": "email", "full_name": "full_name"}


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return str(settings.LOGIN_REDIRECT_URL)


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = RegisterForm(request.POST or None)
    if request.method == "POST":
        wait = form_attempt_wait(
            request, email=request.POST.get("email", ""), throttles=(RegisterIPThrottle, RegisterEmailThrottle)
        )
        if wait:
            form.add_error(None, f"Too many sign-up attempts. Try again in {wait} seconds.")
            return render(request, "accounts/register.html", {"form": form, "next": _next_url(request)}, status=429)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = user_create(email=data["email"], password=data["password1"], full_name=data["full_name"])
        except DjangoValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(_REGISTER_FIELDS.get(field), errors)
        except DomainError as exc:
            form_add_domain_error(form, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to BookWise, {user.full_name or user.email}: your account is ready.")
            return redirect(_next_url(request))
    return render(request, "accounts/register.html", {"form": form, "next": _next_url(request)})


class LoginView(auth_views.LoginView):
    """Django's login, behind the API's login throttles (per IP and per email, shared buckets)."""

    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        wait = form_attempt_wait(
            request, email=request.POST.get("username", ""), throttles=(LoginIPThrottle, LoginEmailThrottle)
        )
        if wait:
            # An unbound form: binding it would run authenticate(), i.e. check the password.
            form = self.get_form_class()(request=request, initial={"username": request.POST.get("username", "")})
            form.cleaned_data = {}
            form.add_error(None, f"Too many login attempts. Try again in {wait} seconds.")
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)


class LogoutView(auth_views.LogoutView):
    """POST logs out. GET (a typed or old link) shows a page with the log-out button instead of a 405."""

    http_method_names = ["get", "post", "options"]
    template_name = "accounts/logout.html"

    def get(self, request, *args, **kwargs):
        return render(request, self.template_name)


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change_form.html"
    success_url = reverse_lazy("portal:password-change-done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


class PasswordResetView(auth_views.PasswordResetView):
    """Emails a one-time link. The same page follows whether or not the address has an account.

    The form queues the email (a Celery task builds the link on SITE_URL and sends it).
    """

    template_name = "accounts/password_reset_form.html"
    form_class = PasswordResetForm
    success_url = reverse_lazy("portal:password-reset-done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
