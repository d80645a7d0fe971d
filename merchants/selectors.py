"""Reads on merchant profiles, each with its visibility rule.

The merchant portal's reads of themes, slots and bookings live with what they
read: `catalog.selectors` and `bookings.merchant_selectors`.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from accounts.models import User
from merchants.models import Merchant, MerchantStatus


def merchant_list_public(*, city: str | None = None) -> QuerySet[Merchant]:
    """Approved merchants: what anyone, signed in or not, may list."""
    qs = Merchant.objects.filter(status=MerchantStatus.APPROVED)
    if city:
        qs = qs.filter(city__iexact=city)
    return qs


def merchant_visible_to(*, user: User | AnonymousUser) -> QuerySet[Merchant]:
    """Approved merchants for anyone; the owner also sees their own pending or
    suspended profile, and platform admins see every profile."""
    if user.is_authenticated and user.is_platform_admin:
        return Merchant.objects.all()
    if user.is_authenticated:
        return Merchant.objects.filter(Q(status=MerchantStatus.APPROVED) | Q(owner=user))
    return Merchant.objects.filter(status=MerchantStatus.APPROVED)


def merchant_of(*, user: User | AnonymousUser) -> Merchant | None:
    """The user's own merchant profile, whatever its status."""
    if not user.is_authenticated:
        return None
    return Merchant.objects.filter(owner=user).first()
