"""Reads of reviews, each with its visibility rule.

A theme is visible to everyone while it is active and its merchant approved;
its merchant's owner and platform admins see it always. A review is visible
where its theme is, unless a moderator hid it. Its author and admins always
see it on its own page; theme lists never show hidden reviews.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import User
from accounts.permissions import user_is_platform_admin
from bookings.models import Booking, BookingStatus
from catalog.models import Theme
from catalog.selectors import theme_bookable_q
from reviews.models import Review


def _theme_visible_q(user: User | AnonymousUser | None, prefix: str = "") -> Q:
    public = theme_bookable_q(prefix=prefix)
    if user is not None and user.is_authenticated:
        return public | Q(**{f"{prefix}merchant__owner": user})
    return public


def theme_visible_to(*, user: User | AnonymousUser | None) -> QuerySet[Theme]:
    """Themes whose reviews the user may read."""
    if user_is_platform_admin(user):
        return Theme.objects.all()
    return Theme.objects.filter(_theme_visible_q(user))


def theme_reviewable_choices(*, user: User) -> QuerySet[Theme]:
    """Themes a user may name when writing a review: the visible ones, plus any they attended.

    Whether the user may actually review one is the service's rule; this only
    decides which ids count as existing (400) rather than refused (403).
    """
    if user_is_platform_admin(user):
        return Theme.objects.select_related("merchant")
    attended = Booking.objects.filter(customer=user, slot__theme=OuterRef("pk"), status=BookingStatus.ATTENDED)
    return Theme.objects.filter(_theme_visible_q(user) | Q(Exists(attended))).select_related("merchant")


def review_list_for_theme(*, theme_id: int) -> QuerySet[Review]:
    """A theme's visible reviews, newest first, with their authors (two columns of them)."""
    return (
        Review.objects.filter(theme_id=theme_id, is_hidden=False)
        .select_related("author")
        .only(
            "id",
            "theme_id",
            "rating",
            "comment",
            "created_at",
            "updated_at",
            "author__id",
            "author__full_name",
        )
        .order_by("-created_at", "-id")
    )


def review_visible_to(*, user: User | AnonymousUser | None) -> QuerySet[Review]:
    """Reviews a user may open one by one."""
    qs = Review.objects.select_related("author")
    if user_is_platform_admin(user):
        return qs
    visible = Q(is_hidden=False) & _theme_visible_q(user, prefix="theme__")
    if user is not None and user.is_authenticated:
        visible |= Q(author=user)
    return qs.filter(visible)


def review_editable_by(*, user: User | AnonymousUser | None) -> QuerySet[Review]:
    """Reviews a user may change or delete: their own, or all for platform admins."""
    qs = Review.objects.select_related("author")
    if user_is_platform_admin(user):
        return qs
    if user is None or not user.is_authenticated:
        return qs.none()
    return qs.filter(author=user)
