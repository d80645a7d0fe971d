"""Role checks shared by every app's API. Object scoping happens in querysets first."""

from rest_framework.permissions import SAFE_METHODS, BasePermission


def user_is_platform_admin(user) -> bool:
    return bool(user and user.is_authenticated and user.is_platform_admin)


def user_approved_merchant(user):
    """The caller's approved Merchant, or None."""
    from merchants.models import MerchantStatus

    if not (user and user.is_authenticated):
        return None
    merchant = getattr(user, "merchant", None)
    if merchant is None or merchant.status != MerchantStatus.APPROVED:
        return None
    return merchant


class IsPlatformAdmin(BasePermission):
    message = "Only platform admins may do this."

    def has_permission(self, request, view) -> bool:
        return user_is_platform_admin(request.user)


class IsApprovedMerchant(BasePermission):
    message = "Only approved merchants may do this."

    def has_permission(self, request, view) -> bool:
        return user_approved_merchant(request.user) is not None


class ReadOnly(BasePermission):
    def has_permission(self, request, view) -> bool:
        return request.method in SAFE_METHODS
