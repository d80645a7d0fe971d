"""Account emails. Called by accounts.tasks."""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from bookwise.emails import absolute_url, send_email_once
from bookwise.models import EmailKind


def send_password_reset_email(*, user_id: int, request_id: str) -> bool:
    """The one-time reset link for one reset request (`request_id`), made here in the worker.

    The token is generated at send time and never travels through the broker
    or the logs; it stays valid for PASSWORD_RESET_TIMEOUT and dies once the
    password changes. Nothing for an account that was deactivated meanwhile.
    """
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.has_usable_password():
        return False
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("portal:password-reset-confirm", kwargs={"uidb64": uidb64, "token": token})
    return send_email_once(
        kind=EmailKind.PASSWORD_RESET,
        key=f"{user.pk}:{request_id}",
        to=user.email,
        template="password_reset",
        context={"user": user, "user_name": user.full_name or user.email, "reset_url": absolute_url(path)},
    )
