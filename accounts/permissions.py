"""Role checks shared by every app's API. Object scoping happens in querysets first.

Acting for a merchant is `merchants.permissions`' rule (one layer up).
"""

from rest_framework.permissions import BasePermission


def user_is_platform_admin(user) -> bool:
    return bool(user and user.is_authenticated and user.is_platform_admin)


class IsPlatformAdmin(BasePermission):
    message = "Only platform admins may do this."

    def has_permission(self, request, view) -> bool:
        return user_is_platform_admin(request.user)
