"""Writes on merchant profiles: apply, approve, suspend.

The owner's `role` follows the merchant's status (approved -> `merchant`,
suspended -> `customer`, through accounts.services.user_set_role), except for
platform admins, whose role never moves. A suspension may also cancel the
merchant's upcoming bookings with their refunds: checkout.services.merchant_suspend
composes that flow from `merchant_mark_suspended` and
`merchant_suspension_announce` here.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TypedDict, Unpack

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone

from accounts.models import Role, User
from accounts.services import user_set_role
from bookwise import outbox
from bookwise.errors import DomainError, Forbidden, InvalidInput
from bookwise.transactions import require_atomic
from merchants import places, tasks
from merchants.models import Merchant, MerchantStatus, validate_timezone
from merchants.widget import widget_origins_normalize

logger = logging.getLogger(__name__)


def _require_admin(by: User) -> None:
    if not (by and by.is_authenticated and by.is_platform_admin):
        raise Forbidden("not_admin", "Only platform admins may change a merchant's status.")


def _set_owner_role(owner: User, role: str) -> None:
    """Caller holds the merchant row lock. Admins keep their role whatever happens to their profile."""
    if owner.is_platform_admin:
        return
    user_set_role(user=owner, role=role)


def merchant_apply(
    *,
    user: User,
    name: str,
    description: str,
    city: str,
    timezone: str,
    street: str = "",
    postcode: str = "",
    country: str = "",
) -> Merchant:
    """Create the caller's merchant profile, pending an admin's approval. The venue address is optional."""
    try:
        validate_timezone(timezone)
    except ValidationError as exc:
        raise InvalidInput("invalid_timezone", exc.messages[0], field="timezone") from exc
    country = _valid_country(country)

    if Merchant.objects.filter(owner=user).exists():
        raise DomainError("already_merchant", "You already have a merchant profile.")

    merchant = Merchant(
        owner=user,
        name=name.strip(),
        description=description.strip(),
        city=city.strip(),
        timezone=timezone,
        street=street.strip(),
        postcode=postcode.strip(),
        country=country,
        status=MerchantStatus.PENDING,
    )
    try:
        merchant.full_clean(exclude=["owner"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise InvalidInput("invalid", messages[0], field=field) from exc
    try:
        # A savepoint, so that losing the race leaves the caller's transaction usable.
        with transaction.atomic():
            merchant.save()
    except IntegrityError as exc:
        # Two concurrent applications passed the check above: the OneToOne
        # unique index on owner let exactly one of them in, and it is there now.
        if not Merchant.objects.filter(owner=user).exists():
            raise
        raise DomainError("already_merchant", "You already have a merchant profile.") from exc
    logger.info("merchant %s applied (owner %s)", merchant.pk, user.pk)
    return merchant


def merchant_approve(*, merchant: Merchant, by: User) -> Merchant:
    """pending/suspended -> approved; the owner becomes a `merchant`. Approving twice changes nothing.

    Only the first approval sends the welcome email (`approved_at` is set once and
    kept); a re-approval after a suspension clears the suspension fields quietly.
    """
    _require_admin(by)
    with transaction.atomic():
        locked = Merchant.objects.select_for_update(of=("self",)).select_related("owner").get(pk=merchant.pk)
        if locked.status == MerchantStatus.APPROVED:
            return locked
        first_approval = locked.approved_at is None
        locked.status = MerchantStatus.APPROVED
        if first_approval:
            locked.approved_at = dj_timezone.now()
        locked.suspended_at = None
        locked.suspension_reason = ""
        locked.suspension_keeps_bookings = True
        locked.save(
            update_fields=[
                "status",
                "approved_at",
                "suspended_at",
                "suspension_reason",
                "suspension_keeps_bookings",
                "updated_at",
            ]
        )
        _set_owner_role(locked.owner, Role.MERCHANT)
        if first_approval:
            # The owner hears about it once the approval is committed (merchants.tasks).
            outbox.enqueue(tasks.send_merchant_approved.name, locked.pk)
    logger.info("merchant %s approved by %s", locked.pk, by.pk)
    return locked


def merchant_mark_suspended(
    *, merchant: Merchant, by: User, reason: str, keep_bookings: bool, now: datetime
) -> tuple[Merchant, bool]:
    """approved -> suspended, with the reason the merchant is told; the owner goes back to `customer`.

    The merchant's half of checkout.services.merchant_suspend, which cancels
    and refunds the upcoming bookings (unless `keep_bookings`) and then calls
    `merchant_suspension_announce`, all in its transaction. The merchant row is
    locked here, before any booking. Returns the locked merchant and whether
    this call suspended it (False: it already was).
    """
    require_atomic()
    _require_admin(by)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("reason_required", "Say why the merchant is suspended: they are told.", field="reason")
    locked = Merchant.objects.select_for_update(of=("self",)).select_related("owner").get(pk=merchant.pk)
    if locked.status == MerchantStatus.SUSPENDED:
        return locked, False
    if locked.status != MerchantStatus.APPROVED:
        raise DomainError("merchant_not_approved", "Only an approved merchant can be suspended.")
    locked.status = MerchantStatus.SUSPENDED
    locked.suspended_at = now
    locked.suspension_reason = reason
    locked.suspension_keeps_bookings = keep_bookings
    locked.save(
        update_fields=["status", "suspended_at", "suspension_reason", "suspension_keeps_bookings", "updated_at"]
    )
    _set_owner_role(locked.owner, Role.CUSTOMER)
    return locked, True


def merchant_suspension_announce(*, merchant_id: int) -> None:
    """Queue the suspension email; it is sent after commit. Caller holds the transaction that suspended."""
    require_atomic()
    outbox.enqueue(tasks.send_merchant_suspended.name, merchant_id)


def _valid_country(country: str) -> str:
    """`"pt"` -> `"PT"`; blank stays blank; anything that is not an ISO 3166-1 alpha-2 code is refused."""
    code = (country or "").strip().upper()
    if code and code not in places.countries():
        raise InvalidInput(
            "invalid_country", f"{country!r} is not an ISO 3166-1 country code (e.g. PT).", field="country"
        )
    return code


class MerchantSettings(TypedDict, total=False):
    """What the owner may change on their own profile (merchant_update_settings); status fields are the admins'."""

    name: str
    description: str
    street: str
    postcode: str
    city: str
    country: str
    timezone: str
    booking_emails: str  # a BookingEmails value
    daily_schedule_email: bool
    widget_origins: list[str]  # sites that may embed the booking widget (merchants.widget)


SETTINGS_FIELDS: tuple[str, ...] = tuple(MerchantSettings.__annotations__)


def merchant_update_settings(*, merchant: Merchant, **changes: Unpack[MerchantSettings]) -> Merchant:
    """The owner edits their profile: venue address, timezone, booking emails. Only SETTINGS_FIELDS.

    Slots keep their instant when the timezone changes (they are stored in UTC); only their local display moves.
    """
    unknown = set(changes) - set(SETTINGS_FIELDS)
    if unknown:
        raise InvalidInput("invalid", f"Cannot change {', '.join(sorted(unknown))}.", field=sorted(unknown)[0])
    if "timezone" in changes:
        try:
            validate_timezone(changes["timezone"])
        except ValidationError as exc:
            raise InvalidInput("invalid_timezone", exc.messages[0], field="timezone") from exc
    if "country" in changes:
        changes["country"] = _valid_country(changes["country"])
    if "widget_origins" in changes:
        changes["widget_origins"] = widget_origins_normalize(changes["widget_origins"])
    with transaction.atomic():
        locked = Merchant.objects.select_for_update(of=("self",)).get(pk=merchant.pk)
        if locked.status == MerchantStatus.SUSPENDED:
            # Like the portal's settings page: a suspended merchant changes nothing until re-approved.
            raise Forbidden("merchant_suspended", "Your merchant account is suspended.")
        for name, value in changes.items():
            setattr(locked, name, value.strip() if isinstance(value, str) and name != "timezone" else value)
        try:
            locked.full_clean(exclude=["owner"], validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            field, messages = next(iter(exc.message_dict.items()))
            raise InvalidInput("invalid", messages[0], field=field) from exc
        locked.save(update_fields=[*changes, "updated_at"])
    return locked


FEE_BPS_MAX = 10000


def merchant_set_fee_bps(*, merchant: Merchant, fee_bps: int | None, by: User) -> Merchant:
    """A platform admin sets the merchant's platform fee in basis points (None: back to PLATFORM_FEE_BPS).

    Only bookings confirmed afterwards pay the new fee: each booking's fee is
    written to the ledger when it is confirmed. Takes the merchant row lock.
    """
    _require_admin(by)
    if fee_bps is not None and not 0 <= fee_bps <= FEE_BPS_MAX:
        raise InvalidInput("invalid_fee_bps", f"Use 0 to {FEE_BPS_MAX} basis points (1000 = 10 %).", field="fee_bps")
    with transaction.atomic():
        locked = Merchant.objects.select_for_update(of=("self",)).get(pk=merchant.pk)
        if locked.fee_bps != fee_bps:
            locked.fee_bps = fee_bps
            locked.save(update_fields=["fee_bps", "updated_at"])
    logger.info("merchant %s: platform fee set to %s bps by %s", merchant.pk, fee_bps, by.pk)
    return locked
