"""Writes on merchant profiles: apply, approve, suspend.

The owner's `role` follows the merchant's status (approved -> `merchant`,
suspended -> `customer`), except for platform admins, whose role never moves.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone as dj_timezone

from accounts.models import Role, User
from bookwise import outbox
from bookwise.errors import DomainError, Forbidden, InvalidInput
from merchants import tasks
from merchants.models import Merchant, MerchantStatus, validate_timezone

logger = logging.getLogger(__name__)


def _require_admin(by: User) -> None:
    if not (by and by.is_authenticated and by.is_platform_admin):
        raise Forbidden("not_admin", "Only platform admins may change a merchant's status.")


def _set_owner_role(owner: User, role: str) -> None:
    """Caller holds the merchant row lock. Admins keep their role whatever happens to their profile."""
    if owner.is_platform_admin or owner.role == role:
        return
    owner.role = role
    owner.save(update_fields=["role"])


def merchant_apply(*, user: User, name: str, description: str, city: str, timezone: str) -> Merchant:
    """Create the caller's merchant profile, pending an admin's approval."""
    try:
        validate_timezone(timezone)
    except ValidationError as exc:
        raise InvalidInput("invalid_timezone", exc.messages[0], field="timezone") from exc

    if Merchant.objects.filter(owner=user).exists():
        raise DomainError("already_merchant", "You already have a merchant profile.")

    merchant = Merchant(
        owner=user,
        name=name.strip(),
        description=description.strip(),
        city=city.strip(),
        timezone=timezone,
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
    """pending/suspended -> approved; the owner becomes a `merchant`. Approving twice changes nothing."""
    _require_admin(by)
    with transaction.atomic():
        locked = Merchant.objects.select_for_update(of=("self",)).select_related("owner").get(pk=merchant.pk)
        if locked.status == MerchantStatus.APPROVED:
            return locked
        locked.status = MerchantStatus.APPROVED
        locked.approved_at = dj_timezone.now()
        locked.save(update_fields=["status", "approved_at", "updated_at"])
        _set_owner_role(locked.owner, Role.MERCHANT)
        # The owner hears about it once the approval is committed (merchants.tasks).
        outbox.enqueue(tasks.send_merchant_approved.name, locked.pk)
    logger.info("merchant %s approved by %s", locked.pk, by.pk)
    return locked


def merchant_suspend(*, merchant: Merchant, by: User) -> Merchant:
    """approved -> suspended; the owner goes back to `customer`. Suspending twice changes nothing.

    The merchant's themes leave the public catalog because the catalog only
    lists themes of approved merchants; nothing else is rewritten here.
    """
    _require_admin(by)
    with transaction.atomic():
        locked = Merchant.objects.select_for_update(of=("self",)).select_related("owner").get(pk=merchant.pk)
        if locked.status == MerchantStatus.SUSPENDED:
            return locked
        if locked.status != MerchantStatus.APPROVED:
            raise DomainError("merchant_not_approved", "Only an approved merchant can be suspended.")
        locked.status = MerchantStatus.SUSPENDED
        locked.save(update_fields=["status", "updated_at"])
        _set_owner_role(locked.owner, Role.CUSTOMER)
    logger.info("merchant %s suspended by %s", locked.pk, by.pk)
    return locked
