"""Portal account pages: sign up, log in and out, change or reset a password; the admin login's throttle.

Sign-up goes through accounts.services.user_create (the API's rules: Django's
password validators, one account per email). The rest are Django's auth views
with our templates; the password-reset email is sent by a Celery task (accounts.forms).

Every form that checks a password or sends an email counts its POSTs in the
throttle buckets of accounts.throttles (shared with the API), and a refused
POST answers 429 with the form and a readable error, before any password check.
Changing or resetting a password needs nothing more here: it ends the user's
API sessions by itself (accounts.services, token families).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.forms import EmailAuthenticationForm, PasswordResetForm, RegisterForm, ReminderEmailsForm
from accounts.services import user_create, user_set_reminder_emails
from accounts.throttles import (
    LoginEmailThrottle,
    LoginIPThrottle,
    PasswordResetEmailThrottle,
    PasswordResetIPThrottle,
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


def _wait_text(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{(seconds + 59) // 60} minutes"


def _throttled(response: HttpResponse, wait: int) -> HttpResponse:
    response.status_code = 429
    response["Retry-After"] = str(wait)
    return response


def _refused_form(form_class, message: str, **kwargs):
    """An unbound form carrying `message`: binding one would validate it (a login form would check the password)."""
    form = form_class(**kwargs)
    form.cleaned_data = {}
    form.add_error(None, message)
    return form


@require_http_methods(["GET", "POST"])
def register(
    request: HttpRequest, *, template_name: str = "accounts/register.html", next_url: str | None = None
) -> HttpResponse:
    """Sign up, then on to `next`. The booking widget (portal/embed_views.py) passes its own template and next."""
    if next_url is None:
        next_url = _next_url(request)
    if request.user.is_authenticated:
        return redirect(next_url)
    form = RegisterForm(request.POST or None)
    if request.method == "POST":
        wait = form_attempt_wait(
            request, email=request.POST.get("email", ""), throttles=(RegisterIPThrottle, RegisterEmailThrottle)
        )
        if wait:
            form.add_error(None, f"Too many sign-up attempts. Try again in {_wait_text(wait)}.")
            page = render(request, template_name, {"form": form, "next": next_url})
            return _throttled(page, wait)
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
            return redirect(next_url)
    return render(request, template_name, {"form": form, "next": next_url})


class LoginView(auth_views.LoginView):
    """Django's login, behind the API's login throttles (per IP and per email, shared buckets)."""

    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        """Without a safe `next`: a merchant lands on their dashboard, a customer on LOGIN_REDIRECT_URL."""
        # The reverse one-to-one of merchants.Merchant.owner (any status: /merchant/ shows pending or suspended).
        if hasattr(self.request.user, "merchant"):
            return reverse("merchant:home")
        return super().get_default_redirect_url()

    def post(self, request, *args, **kwargs):
        wait = form_attempt_wait(
            request, email=request.POST.get("username", ""), throttles=(LoginIPThrottle, LoginEmailThrottle)
        )
        if wait:
            form = _refused_form(
                self.get_form_class(),
                f"Too many login attempts. Try again in {_wait_text(wait)}.",
                request=request,
                initial={"username": request.POST.get("username", "")},
            )
            return _throttled(self.render_to_response(self.get_context_data(form=form)), wait)
        return super().post(request, *args, **kwargs)


def admin_login_refusal(request: HttpRequest, *, site, extra_context: dict | None = None) -> HttpResponse | None:
    """Count a Django admin login POST in the login buckets; None if it may go on, else a 429 login page.

    The same per-IP and per-email buckets as the API and the portal, so the admin
    login is no side door for a guesser. The refusal page is Django admin's login
    page (built like `AdminSite.login` builds it) with the error above the form.
    """
    if request.method != "POST":
        return None
    username = request.POST.get("username", "")
    wait = form_attempt_wait(request, email=username, throttles=(LoginIPThrottle, LoginEmailThrottle))
    if not wait:
        return None
    from django.contrib.admin.forms import AdminAuthenticationForm

    form = _refused_form(
        site.login_form or AdminAuthenticationForm,
        f"Too many login attempts. Try again in {_wait_text(wait)}.",
        request=request,
        initial={"username": username},
    )
    context = {
        **site.each_context(request),
        "title": _("Log in"),
        "subtitle": None,
        "app_path": request.get_full_path(),
        "username": request.user.get_username(),
        "form": form,
        REDIRECT_FIELD_NAME: request.POST.get(REDIRECT_FIELD_NAME)
        or request.GET.get(REDIRECT_FIELD_NAME)
        or reverse("admin:index", current_app=site.name),
        **(extra_context or {}),
    }
    request.current_app = site.name
    return _throttled(TemplateResponse(request, site.login_template or "admin/login.html", context), wait)


class LogoutView(auth_views.LogoutView):
    """POST logs out. GET (a typed or old link) shows a page with the log-out button instead of a 405."""

    http_method_names = ["get", "post", "options"]
    template_name = "accounts/logout.html"

    def get(self, request, *args, **kwargs):
        return render(request, self.template_name)


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """The customer's account: name and email, reminder emails on or off, a link to change the password."""
    # An unticked checkbox posts nothing: an empty POST is still a submitted form.
    data = request.POST if request.method == "POST" else None
    form = ReminderEmailsForm(data, initial={"reminder_emails": request.user.reminder_emails})
    if request.method == "POST" and form.is_valid():
        enabled = form.cleaned_data["reminder_emails"]
        user_set_reminder_emails(user=request.user, enabled=enabled)
        messages.success(request, "Reminder emails are on." if enabled else "Reminder emails are off.")
        return redirect("portal:account")
    return render(request, "accounts/account.html", {"form": form})


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change_form.html"
    success_url = reverse_lazy("portal:password-change-done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"


class PasswordResetView(auth_views.PasswordResetView):
    """Emails a one-time link. The same page follows whether or not the address has an account.

    The form queues the email (a Celery task builds the link on SITE_URL and sends it).
    Requests are throttled per client IP and per (normalised) address before the
    address is looked up, so a refusal is the same whether or not it has an account.
    """

    template_name = "accounts/password_reset_form.html"
    form_class = PasswordResetForm
    success_url = reverse_lazy("portal:password-reset-done")

    def post(self, request, *args, **kwargs):
        email = request.POST.get("email", "")
        wait = form_attempt_wait(request, email=email, throttles=(PasswordResetIPThrottle, PasswordResetEmailThrottle))
        if wait:
            form = _refused_form(
                self.get_form_class(),
                f"Too many password reset requests. Try again in {_wait_text(wait)}.",
                initial={"email": email},
            )
            return _throttled(self.render_to_response(self.get_context_data(form=form)), wait)
        return super().post(request, *args, **kwargs)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
