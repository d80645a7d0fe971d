"""Writes of reviews, and the theme rating that follows them.

Every write takes the theme row lock first (`SELECT ... FOR NO KEY UPDATE`),
changes the review, then recomputes the theme's `rating_avg` and
`review_count` with one aggregate over its visible reviews, all in one
transaction. Two reviews of one theme therefore never recompute at the same
time and no update is lost, in any number of processes. The NO KEY variant
still serialises review writers but does not block inserts that only
reference the theme (slots, reviews), which take FOR KEY SHARE.

Lock order: theme row, then review rows.

Who may review: anyone with an `attended` booking of the theme, except the
theme's own merchant. The theme need not be active any more: attendance is
what earns the right to review, and a merchant must not be able to dodge
reviews by deactivating a theme for a while. Such a review is stored and
counted (the rating is right if the theme comes back) but shown only where
the theme itself is visible (see `reviews.selectors`).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, DecimalField
from django.db.models.functions import Round
from django.utils import timezone
from rest_framework import status

from accounts.models import User
from bookings.models import Booking, BookingStatus
from bookwise.errors import DomainError, Forbidden, InvalidInput
from catalog.models import Theme
from reviews.models import Review

RATING_MIN = 1
RATING_MAX = 5
COMMENT_MAX_LENGTH = 5000
UNIQUE_CONSTRAINT = "review_one_per_author_theme"


def _validate_rating(rating: object) -> int:
    if isinstance(rating, bool) or not isinstance(rating, int) or not RATING_MIN <= rating <= RATING_MAX:
        raise InvalidInput(
            "invalid_rating", f"Rating must be a whole number from {RATING_MIN} to {RATING_MAX}.", field="rating"
        )
    return rating


def _validate_comment(comment: object) -> str:
    if not isinstance(comment, str):
        raise InvalidInput("invalid_comment", "Comment must be text.", field="comment")
    if len(comment) > COMMENT_MAX_LENGTH:
        raise InvalidInput(
            "invalid_comment", f"Comment must be at most {COMMENT_MAX_LENGTH} characters.", field="comment"
        )
    return comment


def _already_reviewed_error() -> DomainError:
    return DomainError("already_reviewed", "You have already reviewed this theme; edit your review instead.")


def _is_unique_violation(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    return constraint == UNIQUE_CONSTRAINT or (constraint is None and UNIQUE_CONSTRAINT in str(exc))


def _not_found_error() -> DomainError:
    return DomainError("review_not_found", "This review no longer exists.", http_status=status.HTTP_404_NOT_FOUND)


def has_attended(*, user: User, theme_id: int) -> bool:
    return Booking.objects.filter(customer=user, slot__theme_id=theme_id, status=BookingStatus.ATTENDED).exists()


def has_reviewed(*, user: User, theme_id: int) -> bool:
    return Review.objects.filter(author=user, theme_id=theme_id).exists()


def _lock_theme(theme_id: int) -> None:
    Theme.objects.select_for_update(no_key=True).only("pk").get(pk=theme_id)


def _recount_theme_rating(theme_id: int) -> tuple[Decimal, int]:
    """Recompute and store a theme's rating from its visible reviews. Caller holds the theme row lock."""
    totals = Review.objects.filter(theme_id=theme_id, is_hidden=False).aggregate(
        avg=Round(Avg("rating", output_field=DecimalField(max_digits=3, decimal_places=2)), 2),
        count=Count("pk"),
    )
    rating_avg = totals["avg"] if totals["avg"] is not None else Decimal("0.00")
    review_count = totals["count"]
    Theme.objects.filter(pk=theme_id).update(rating_avg=rating_avg, review_count=review_count)
    return rating_avg, review_count


def _apply_to_cached_theme(review: Review, totals: tuple[Decimal, int]) -> None:
    """Keep an already loaded `review.theme` in step with the row, for the caller's convenience."""
    if Review.theme.is_cached(review):
        review.theme.rating_avg, review.theme.review_count = totals


def review_create(*, author: User, theme: Theme, rating: int, comment: str = "") -> Review:
    """Write the author's one review of a theme they attended.

    Raises InvalidInput (rating 1..5, comment length), Forbidden `own_theme`
    for the theme's merchant, Forbidden `not_attended` without an attended
    booking of the theme, DomainError `already_reviewed` on a second review.
    Inactive themes may still be reviewed by attendees (module docstring).
    """
    rating = _validate_rating(rating)
    comment = _validate_comment(comment)
    if theme.merchant.owner_id == author.pk:
        raise Forbidden("own_theme", "You cannot review your own theme.")
    if not has_attended(user=author, theme_id=theme.pk):
        raise Forbidden("not_attended", "Only customers who attended this theme may review it.")

    with transaction.atomic():
        _lock_theme(theme.pk)
        # Under the lock, so a concurrent double submit sees the first review
        # here and gets the clear message; the unique constraint stays the backstop.
        if has_reviewed(user=author, theme_id=theme.pk):
            raise _already_reviewed_error()
        try:
            with transaction.atomic():
                review = Review.objects.create(author=author, theme=theme, rating=rating, comment=comment)
        except IntegrityError as exc:
            if _is_unique_violation(exc):
                raise _already_reviewed_error() from exc
            raise
        totals = _recount_theme_rating(theme.pk)
    theme.rating_avg, theme.review_count = totals
    return review


def review_update(*, review: Review, rating: int | None = None, comment: str | None = None) -> Review:
    """Change a review's rating and/or comment; None leaves a field as it is."""
    changes: dict[str, object] = {}
    if rating is not None:
        changes["rating"] = _validate_rating(rating)
    if comment is not None:
        changes["comment"] = _validate_comment(comment)
    if not changes:
        return review
    changes["updated_at"] = timezone.now()

    with transaction.atomic():
        _lock_theme(review.theme_id)
        if not Review.objects.filter(pk=review.pk).update(**changes):
            raise _not_found_error()
        totals = _recount_theme_rating(review.theme_id)
    for field, value in changes.items():
        setattr(review, field, value)
    _apply_to_cached_theme(review, totals)
    return review


def review_delete(*, review: Review) -> None:
    """Delete a review (its author or a moderator). Deleting one already gone is a no-op."""
    with transaction.atomic():
        _lock_theme(review.theme_id)
        Review.objects.filter(pk=review.pk).delete()
        totals = _recount_theme_rating(review.theme_id)
    _apply_to_cached_theme(review, totals)


def review_set_hidden(*, review: Review, hidden: bool) -> Review:
    """Moderation: a hidden review is neither listed nor counted in the theme's rating."""
    with transaction.atomic():
        _lock_theme(review.theme_id)
        if not Review.objects.filter(pk=review.pk).update(is_hidden=hidden):
            raise _not_found_error()
        totals = _recount_theme_rating(review.theme_id)
    review.is_hidden = hidden
    _apply_to_cached_theme(review, totals)
    return review
