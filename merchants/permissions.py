"""The one rule for acting as a merchant, asked by every API view, portal page, selector and service that does.

A user acts for a merchant profile when they are a platform admin, or its
owner while the profile is approved. A pending or suspended owner has no
merchant powers at all: not over their themes and slots, and not over the
bookings on them or the personal data of the people who booked.

One narrow exception: when the admin who suspended a merchant chose to keep
its bookings (`Merchant.suspension_keeps_bookings`), the owner may still serve
them: see the participants of their slots and mark attendance
(`user_serves_kept_bookings`, asked by those two places only).
"""

from __future__ import annotations

from django.db.models import Q

from accounts.permissions import user_is_platform_admin
from merchants.models import Merchant, MerchantStatus


def user_approved_merchant(user) -> Merchant | None:
    """The caller's own merchant profile when it is approved, else None (admins included: their own only)."""
    if not (user and user.is_authenticated):
        return None
    merchant = getattr(user, "merchant", None)  # no profile: RelatedObjectDoesNotExist, an AttributeError
    if merchant is None or merchant.status != MerchantStatus.APPROVED:
        return None
    return merchant


def _owns(user, merchant: Merchant) -> bool:
    return bool(user and user.is_authenticated and merchant.owner_id == user.pk)


def user_manages(user, merchant: Merchant) -> bool:
    """May `user` act for `merchant`: change its themes and slots, see and handle the bookings on them?

    The one owner-or-admin rule: every API view, portal page and service that acts for a merchant asks this.
    """
    if user_is_platform_admin(user):
        return True
    return _owns(user, merchant) and merchant.status == MerchantStatus.APPROVED


def managed_by_owner_q(user, *, merchant_path: str = "merchant") -> Q:
    """Rows whose merchant (reached through `merchant_path`) `user` owns and may act for.

    For querysets; platform admins see everything and are handled by the caller.
    Never matches an anonymous user.
    """
    if not (user and user.is_authenticated):
        return Q(pk__in=[])
    return Q(**{f"{merchant_path}__owner": user, f"{merchant_path}__status": MerchantStatus.APPROVED})


def _keeps_bookings_for(user, merchant: Merchant) -> bool:
    return _owns(user, merchant) and merchant.status == MerchantStatus.SUSPENDED and merchant.suspension_keeps_bookings


def user_serves_kept_bookings(user, merchant: Merchant) -> bool:
    """May `user` see the participants of `merchant`'s slots and mark their attendance?

    Whoever manages the merchant, and also its suspended owner when the suspension
    kept the bookings. Only the participants list and attendance ask this: every
    other power stays with `user_manages`.
    """
    return user_manages(user, merchant) or _keeps_bookings_for(user, merchant)


def serving_kept_bookings_q(user, *, merchant_path: str = "merchant") -> Q:
    """Rows of the merchant that `user` owns, suspended with its bookings kept (see `user_serves_kept_bookings`)."""
    if not (user and user.is_authenticated):
        return Q(pk__in=[])
    return Q(
        **{
            f"{merchant_path}__owner": user,
            f"{merchant_path}__status": MerchantStatus.SUSPENDED,
            f"{merchant_path}__suspension_keeps_bookings": True,
        }
    )


def user_kept_bookings_merchant(user) -> Merchant | None:
    """The caller's own merchant profile when it is suspended with its bookings kept, else None."""
    if not (user and user.is_authenticated):
        return None
    merchant = getattr(user, "merchant", None)
    return merchant if merchant is not None and _keeps_bookings_for(user, merchant) else None
