"""Merchant emails. Called by merchants.tasks after commit."""

from __future__ import annotations

from django.urls import reverse

from bookwise.emails import absolute_url, send_email_once
from bookwise.models import EmailKind
from merchants.models import Merchant, MerchantStatus


def send_merchant_approved_email(*, merchant_id: int) -> bool:
    """To the owner: the welcome after the first approval (merchants.services queues it only then).

    Once per merchant: `approved_at` is set by the first approval and kept, so the key never changes.
    Nothing when the merchant is no longer approved by the time the task runs.
    """
    merchant = Merchant.objects.select_related("owner").filter(pk=merchant_id).first()
    if merchant is None or merchant.status != MerchantStatus.APPROVED or merchant.approved_at is None:
        return False
    owner = merchant.owner
    return send_email_once(
        kind=EmailKind.MERCHANT_APPROVED,
        key=f"{merchant.pk}@{merchant.approved_at.timestamp():.6f}",
        to=owner.email,
        template="merchant_approved",
        context={
            "merchant": merchant,
            "owner_name": owner.full_name or owner.email,
            "portal_url": absolute_url(reverse("merchant:home")),
        },
    )


def send_merchant_suspended_email(*, merchant_id: int) -> bool:
    """To the owner: why the merchant was suspended and what happens to the upcoming bookings.

    Once per suspension (the key holds `suspended_at`). Nothing when the merchant was
    re-approved before the task ran.
    """
    merchant = Merchant.objects.select_related("owner").filter(pk=merchant_id).first()
    if merchant is None or merchant.status != MerchantStatus.SUSPENDED or merchant.suspended_at is None:
        return False
    owner = merchant.owner
    return send_email_once(
        kind=EmailKind.MERCHANT_SUSPENDED,
        key=f"{merchant.pk}@{merchant.suspended_at.timestamp():.6f}",
        to=owner.email,
        template="merchant_suspended",
        context={
            "merchant": merchant,
            "owner_name": owner.full_name or owner.email,
            "reason": merchant.suspension_reason,
            "keeps_bookings": merchant.suspension_keeps_bookings,
            "portal_url": absolute_url(reverse("merchant:home")),
        },
    )
