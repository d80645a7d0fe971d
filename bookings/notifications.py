"""Booking emails. Sent from Celery tasks after commit, never inside a lock."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from bookings.models import Booking


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:.2f} {currency.upper()}"


def send_booking_email(*, booking_id: int, kind: str) -> None:
    booking = Booking.objects.select_related("slot__theme__merchant", "customer").filter(pk=booking_id).first()
    if booking is None:
        return
    theme = booking.slot.theme
    local_start = booking.slot.starts_at.astimezone(theme.merchant.tzinfo)
    when = f"{local_start:%A %d %B %Y, %H:%M} ({theme.merchant.timezone})"
    if kind == "confirmed":
        subject = f"Booking confirmed: {theme.title}"
        body = (
            f"Hello {booking.customer.full_name or booking.customer.email},\n\n"
            f"Your booking #{booking.pk} for {theme.title} on {when} for {booking.party_size} "
            f"is confirmed. Total: {_money(booking.amount, booking.currency)}.\n\n"
            f"Address: {theme.merchant.name}, {theme.merchant.city}.\n"
        )
    else:
        subject = f"Booking cancelled: {theme.title}"
        refund = " A full refund is on its way." if booking.amount else ""
        body = f"Your booking #{booking.pk} for {theme.title} on {when} was cancelled.{refund}\n"
    message = EmailMultiAlternatives(subject, body, settings.DEFAULT_FROM_EMAIL, [booking.customer.email])
    message.send()
