"""Transactional emails: render from templates, send at most once per event.

Every email is three templates under `templates/emails/`: `<name>_subject.txt`,
`<name>.txt` (extends `emails/base.txt`) and `<name>.html` (extends
`emails/base.html`). `render_email` builds the three parts; `send_email_once`
sends them from a Celery task (after commit, see each app's tasks.py) unless
the same email already went out.

Idempotency: each email names its event with a (kind, key) pair, e.g.
("booking_confirmed", "<booking id>"), and `EmailLog` has a unique constraint on
it. The row is inserted and the message handed to the mail backend inside one
transaction:

- a task run twice (a retry after a lost ack, a duplicate dispatch) finds the
  committed row and sends nothing;
- two copies running at the same moment: the second waits on the unique index
  until the first commits, then finds the row;
- a send that fails (SMTP down) rolls the row back, so the retry sends.

The remaining window is a send that succeeded followed by a commit that failed:
the retry sends again. Duplicates are possible in that one case, a lost email
is not. Only the one `EmailLog` row is locked while the backend talks to SMTP,
never a booking, slot or payment row.
"""

from __future__ import annotations

import logging
import smtplib
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template import Context
from django.template.loader import get_template, render_to_string

from bookwise.celery import RELIABLE_TASK_OPTIONS, ReliableTaskOptions
from bookwise.models import EmailLog

logger = logging.getLogger(__name__)

SITE_NAME = "BookWise"


class EmailTaskOptions(ReliableTaskOptions):
    """Typed, so that ``shared_task(**EMAIL_TASK_OPTIONS)`` type-checks against Celery's keyword arguments."""

    autoretry_for: tuple[type[BaseException], ...]
    retry_backoff: int
    retry_backoff_max: int
    max_retries: int


# Options for every email task: transient network/SMTP errors retry with
# bounded backoff (well under the broker's visibility timeout); acks_late and
# reject_on_worker_lost (a killed worker's email is sent by the next one) are
# safe because send_email_once is idempotent.
EMAIL_TASK_OPTIONS: EmailTaskOptions = {
    **RELIABLE_TASK_OPTIONS,
    "autoretry_for": (OSError, smtplib.SMTPException),
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "max_retries": 5,
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: str
    mimetype: str


def absolute_url(path: str) -> str:
    """A link for an email, on SITE_URL: emails are rendered in a worker, with no request to ask."""
    return settings.SITE_URL.rstrip("/") + path


def local_time_range(starts_at: datetime, ends_at: datetime, tz_name: str) -> str:
    """A slot's times in the merchant's zone, with the zone's name.

    "Saturday 14 June 2025, 18:00-19:30 (Europe/Lisbon)"; an end on another
    day repeats the date.
    """
    zone = zoneinfo.ZoneInfo(tz_name)
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    day = f"{start:%A} {start.day} {start:%B %Y}"
    if end.date() == start.date():
        return f"{day}, {start:%H:%M}–{end:%H:%M} ({tz_name})"
    return f"{day}, {start:%H:%M} – {end:%A} {end.day} {end:%B %Y}, {end:%H:%M} ({tz_name})"


def _render_plain(name: str, context: dict[str, Any]) -> str:
    """A plain-text template: no HTML escaping (a subject or a text body is not HTML)."""
    return get_template(name).template.render(Context(context, autoescape=False))


def render_email(template: str, context: Mapping[str, Any]) -> RenderedEmail:
    """The subject (one line), text and HTML parts of `emails/<template>*`. Only the HTML part is escaped."""
    full = {"site_name": SITE_NAME, "site_url": settings.SITE_URL.rstrip("/"), **context}
    subject = " ".join(_render_plain(f"emails/{template}_subject.txt", full).split())
    text = _render_plain(f"emails/{template}.txt", full).strip() + "\n"
    html = render_to_string(f"emails/{template}.html", full)
    return RenderedEmail(subject=subject, text=text, html=html)


def send_email_once(
    *,
    kind: str,
    key: str | int,
    to: str,
    template: str,
    context: Mapping[str, Any],
    attachments: Iterable[Attachment] = (),
) -> bool:
    """Render and send one email unless this (kind, key) was sent already. True when it was sent now.

    Call from a Celery task, outside any transaction that holds business row
    locks (the SMTP conversation happens in here).
    """
    with transaction.atomic():
        try:
            with transaction.atomic():
                EmailLog.objects.create(kind=kind, key=str(key), recipient=to)
        except IntegrityError:
            logger.info("%s email %s already sent, skipped", kind, key)
            return False
        rendered = render_email(template, context)
        message = EmailMultiAlternatives(rendered.subject, rendered.text, settings.DEFAULT_FROM_EMAIL, [to])
        message.attach_alternative(rendered.html, "text/html")
        for attachment in attachments:
            message.attach(attachment.filename, attachment.content, attachment.mimetype)
        message.send()
    # Ids only: addresses and links (reset tokens) stay out of the logs.
    logger.info("%s email %s sent", kind, key)
    return True
