"""Stripe Connect (Express): a merchant's connected account, its onboarding and its status.

A merchant starts payouts once (:func:`payouts_onboarding_link`): an Express
account is created at Stripe with a deterministic idempotency key and stored
as the merchant's one :class:`ConnectedAccount`; each call then asks Stripe for
a fresh Account Link, whose URL is single-use and short-lived. Stripe tells us
about the account's progress with ``account.updated``; the webhook and the
portal's return page both re-read the account from Stripe
(:func:`connected_account_sync`) and apply what they read
(:func:`connected_account_apply`). No Stripe call runs under a row lock: the
account is created before its row is written, and re-read before the row is
locked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import stripe
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from bookwise import outbox
from bookwise.emails import absolute_url
from bookwise.errors import DomainError
from merchants.models import Merchant, MerchantStatus
from payments.gateway import StripeUnavailable, is_transient, stripe_client
from payments.models import ConnectedAccount, ConnectedAccountStatus

logger = logging.getLogger(__name__)

# The status of a merchant with no ConnectedAccount row (API.md: "none").
STATUS_NONE = "none"
# Stripe's "we are checking what was sent" reason: not a restriction the merchant can act on.
_PENDING_VERIFICATION = "requirements.pending_verification"


def account_idempotency_key(merchant_id: int) -> str:
    """The one key the merchant's Express account is created with: a retry or a race gets the same account."""
    return f"connect-account-merchant-{merchant_id}"


def _provider_error(exc: stripe.StripeError, *, what: str) -> DomainError:
    """A Stripe failure as the API and the portal show it: 503 when retrying may work, else 502."""
    if is_transient(exc):
        return DomainError(
            "payment_provider_unavailable",
            f"Stripe cannot be reached right now ({what}). Try again in a moment.",
            http_status=503,
        )
    return DomainError("payment_provider_error", f"Stripe refused the request ({what}).", http_status=502)


def payouts_onboarding_link(*, merchant: Merchant) -> str:
    """The URL of a new Stripe Account Link that onboards (or continues onboarding) the merchant's Express account.

    Only an approved merchant may start payouts (409 ``merchant_not_approved``).
    The account is created at Stripe on the first call only (deterministic
    idempotency key) and stored as the merchant's one ConnectedAccount; two
    concurrent first calls end with one row (the second adopts the first's). The
    link's refresh and return URLs are the merchant portal's payouts pages.
    Caller holds no lock. Raises DomainError ``payment_provider_unavailable``
    (503) or ``payment_provider_error`` (502) when Stripe fails.
    """
    if merchant.status != MerchantStatus.APPROVED:
        raise DomainError("merchant_not_approved", "Only an approved merchant can set up payouts.", http_status=409)
    account = _connected_account_ensure(merchant=merchant)
    try:
        link = stripe_client().v1.account_links.create(
            params={
                "account": account.stripe_account_id,
                "type": "account_onboarding",
                "refresh_url": absolute_url(reverse("merchant:payouts-refresh")),
                "return_url": absolute_url(reverse("merchant:payouts-return")),
            }
        )
    except stripe.StripeError as exc:
        logger.warning("merchant %s: Stripe refused an account link: %s", merchant.pk, exc)
        raise _provider_error(exc, what="onboarding link") from exc
    return str(link.url)


def _connected_account_ensure(*, merchant: Merchant) -> ConnectedAccount:
    """The merchant's ConnectedAccount, creating the Express account at Stripe first when there is none.

    Stripe is called before any row is written or locked; the row's one-to-one
    merchant column decides between concurrent creators.
    """
    existing = ConnectedAccount.objects.filter(merchant=merchant).first()
    if existing is not None:
        return existing
    owner_email = merchant.owner.email
    try:
        created = stripe_client().v1.accounts.create(
            params={
                "type": "express",
                "country": (merchant.country or "US").upper(),
                "email": owner_email,
                "capabilities": {"transfers": {"requested": True}},
                "metadata": {"merchant_id": str(merchant.pk)},
            },
            options={"idempotency_key": account_idempotency_key(merchant.pk)},
        )
    except stripe.StripeError as exc:
        logger.warning("merchant %s: Stripe refused to create the connected account: %s", merchant.pk, exc)
        raise _provider_error(exc, what="account creation") from exc
    fields = _fields_from_account(created.to_dict())
    row, made = ConnectedAccount.objects.get_or_create(
        merchant=merchant, defaults={"stripe_account_id": str(created.id), **fields}
    )
    if not made and row.stripe_account_id != created.id:
        # Only a Stripe without idempotency (a test stand-in) gives a racing caller another account.
        logger.warning("merchant %s: Stripe account %s unused; the row keeps %s", merchant.pk, created.id, row)
    return row


def _fields_from_account(account: Mapping[str, Any]) -> dict[str, Any]:
    """The columns of a ConnectedAccount as Stripe's account object says (status included)."""
    requirements: Mapping[str, Any] = account.get("requirements") or {}
    currently_due: Iterable[str] = requirements.get("currently_due") or []
    past_due: list[str] = list(requirements.get("past_due") or [])
    due = list(dict.fromkeys([*currently_due, *past_due]))
    disabled_reason = str(requirements.get("disabled_reason") or "")
    charges_enabled = bool(account.get("charges_enabled"))
    payouts_enabled = bool(account.get("payouts_enabled"))
    details_submitted = bool(account.get("details_submitted"))
    verifying = disabled_reason == _PENDING_VERIFICATION and not due
    if payouts_enabled and charges_enabled:
        status = ConnectedAccountStatus.ENABLED
    elif details_submitted and not verifying and (not payouts_enabled or past_due or disabled_reason):
        # The merchant finished onboarding, yet Stripe holds payouts back: it needs something.
        status = ConnectedAccountStatus.RESTRICTED
    else:
        # Onboarding not finished, or finished and Stripe is still verifying what was sent.
        status = ConnectedAccountStatus.PENDING
    return {
        "status": status,
        "charges_enabled": charges_enabled,
        "payouts_enabled": payouts_enabled,
        "details_submitted": details_submitted,
        "requirements_due": due,
        "disabled_reason": disabled_reason[:255],
    }


def connected_account_apply(*, account: Mapping[str, Any]) -> ConnectedAccount | None:
    """Apply a Stripe account object, as read from Stripe, to its ConnectedAccount. Idempotent.

    Never pass a webhook payload: :func:`connected_account_sync` re-reads it.
    Returns None for an account that is not one of ours. On the move to
    ``enabled`` it stamps ``payouts_enabled_at`` and queues the "payouts
    enabled" email; on the move to ``restricted`` the "restricted" email. Both
    go through the outbox, in this transaction: a repeated event (same status)
    sends nothing. Takes the ConnectedAccount row lock (no lock of the main
    order is held or needed).
    """
    fields = _fields_from_account(account)
    with transaction.atomic():
        row = ConnectedAccount.objects.select_for_update().filter(stripe_account_id=str(account.get("id"))).first()
        if row is None:
            return None
        before = row.status
        changed = [name for name, value in fields.items() if getattr(row, name) != value]
        for name in changed:
            setattr(row, name, fields[name])
        if before != row.status and row.status == ConnectedAccountStatus.ENABLED:
            row.payouts_enabled_at = timezone.now()
            changed.append("payouts_enabled_at")
            outbox.enqueue("payments.tasks.send_payouts_enabled", row.merchant_id)
        elif before != row.status and row.status == ConnectedAccountStatus.RESTRICTED:
            outbox.enqueue("payments.tasks.send_payouts_restricted", row.merchant_id)
        if changed:
            row.save(update_fields=[*changed, "updated_at"])
    if before != row.status:
        logger.info("connected account %s: %s -> %s", row.stripe_account_id, before, row.status)
    return row


def connected_account_sync(*, stripe_account_id: str) -> ConnectedAccount | None:
    """Re-read a connected account from Stripe and apply it (``account.updated``). Caller holds no lock.

    Raises StripeUnavailable when Stripe cannot be reached (the webhook answers
    503 and Stripe delivers the event again). An account Stripe refuses to show
    (not ours, deleted) changes nothing.
    """
    if not ConnectedAccount.objects.filter(stripe_account_id=stripe_account_id).exists():
        return None
    try:
        account = stripe_client().v1.accounts.retrieve(stripe_account_id).to_dict()
    except stripe.StripeError as exc:
        if is_transient(exc):
            raise StripeUnavailable(str(exc)) from exc
        logger.error("connected account %s: Stripe refused to show it; nothing applied: %s", stripe_account_id, exc)
        return None
    return connected_account_apply(account=account)


def connected_account_refresh(*, merchant: Merchant) -> ConnectedAccount | None:
    """The merchant's account as Stripe shows it now (the portal's return page), or None before onboarding.

    Caller holds no lock. Raises DomainError ``payment_provider_unavailable``
    (503) when Stripe cannot be reached; the stored state stays as it was.
    """
    row = ConnectedAccount.objects.filter(merchant=merchant).first()
    if row is None:
        return None
    try:
        return connected_account_sync(stripe_account_id=row.stripe_account_id) or row
    except StripeUnavailable as exc:
        raise DomainError(
            "payment_provider_unavailable",
            "Stripe cannot be reached right now to check your account. Try again in a moment.",
            http_status=503,
        ) from exc


def payouts_status(account: ConnectedAccount | None) -> str:
    """none | pending | enabled | restricted (API.md)."""
    return STATUS_NONE if account is None else str(account.status)


# --- Words for the portal ---------------------------------------------------------------------

STATUS_WORDS: dict[str, str] = {
    STATUS_NONE: "You have not set up payouts yet. Connect a Stripe account to get paid for your bookings.",
    ConnectedAccountStatus.PENDING: "Your Stripe account is not finished yet: continue the setup to get paid.",
    ConnectedAccountStatus.ENABLED: "Payouts are on: the money of each booking is sent to your Stripe account "
    "after the experience.",
    ConnectedAccountStatus.RESTRICTED: "Stripe has paused your payouts until it gets more information. "
    "Your earnings are kept and sent once this is fixed.",
}

# Stripe requirement codes (or their first dotted part), most specific first.
_REQUIREMENT_WORDS: tuple[tuple[str, str], ...] = (
    ("external_account", "Stripe needs your bank details"),
    ("individual.verification.document", "Stripe needs a photo of your identity document"),
    ("individual.verification.additional_document", "Stripe needs a document that proves your address"),
    ("representative.verification", "Stripe needs an identity document of your company's representative"),
    ("individual.id_number", "Stripe needs your identity or tax number"),
    ("individual.ssn_last_4", "Stripe needs the last four digits of your social security number"),
    ("individual.dob", "Stripe needs your date of birth"),
    ("individual.address", "Stripe needs your home address"),
    ("individual.phone", "Stripe needs your phone number"),
    ("individual.email", "Stripe needs your email address"),
    ("individual", "Stripe needs your personal details"),
    ("representative", "Stripe needs details of your company's representative"),
    ("owners", "Stripe needs details of your company's owners"),
    ("directors", "Stripe needs details of your company's directors"),
    ("executives", "Stripe needs details of your company's executives"),
    ("company.tax_id", "Stripe needs your company's tax number"),
    ("company", "Stripe needs your company's details"),
    ("business_profile", "Stripe needs a description of your business (website, activity)"),
    ("business_type", "Stripe needs to know whether you are an individual or a company"),
    ("tos_acceptance", "Stripe needs you to accept its terms of service"),
    ("settings", "Stripe needs your account settings (e.g. statement descriptor)"),
)


def requirement_words(codes: Iterable[str]) -> list[str]:
    """Stripe requirement codes as sentences for the merchant, one per kind, in order: "Stripe needs your bank
    details" for ``external_account``; an unknown code becomes "Stripe needs more information"."""
    sentences: list[str] = []
    for code in codes:
        sentence = next(
            (words for prefix, words in _REQUIREMENT_WORDS if code == prefix or code.startswith(prefix + ".")),
            "Stripe needs more information",
        )
        if sentence not in sentences:
            sentences.append(sentence)
    return sentences
