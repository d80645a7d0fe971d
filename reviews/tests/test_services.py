from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.tests.factories import UserFactory
from bookings.models import BookingStatus
from bookings.tests.factories import BookingFactory, ConfirmedBookingFactory
from bookwise.errors import DomainError, Forbidden, InvalidInput
from catalog.tests.factories import SlotFactory, ThemeFactory
from reviews import services
from reviews.models import Review
from reviews.services import review_create, review_delete, review_set_hidden, review_update
from reviews.tests.factories import ReviewFactory, attend
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db


@pytest.fixture
def theme():
    return ThemeFactory()


def _write_review(theme, rating, comment="") -> Review:
    user = UserFactory()
    attend(user, theme)
    return review_create(author=user, theme=theme, rating=rating, comment=comment)


def _rating_of(theme) -> tuple[Decimal, int]:
    theme.refresh_from_db(fields=["rating_avg", "review_count"])
    return theme.rating_avg, theme.review_count


# --- who may review --------------------------------------------------------------


def test_create_by_attendee_writes_review_and_theme_rating(theme, customer):
    attend(customer, theme)

    review = review_create(author=customer, theme=theme, rating=4, comment="Clever puzzles.")

    assert Review.objects.get() == review
    assert (review.author, review.theme, review.rating, review.comment) == (customer, theme, 4, "Clever puzzles.")
    assert _rating_of(theme) == (Decimal("4.00"), 1)


def test_create_refuses_confirmed_but_not_attended(theme, customer):
    ConfirmedBookingFactory(customer=customer, slot=SlotFactory(theme=theme))

    with pytest.raises(Forbidden) as exc:
        review_create(author=customer, theme=theme, rating=5, comment="")

    assert exc.value.code == "not_attended"
    assert exc.value.http_status == 403
    assert not Review.objects.exists()


@pytest.mark.parametrize("status", [BookingStatus.NO_SHOW, BookingStatus.CANCELLED, BookingStatus.PENDING_PAYMENT])
def test_create_refuses_bookings_that_are_not_attended(theme, customer, status):
    BookingFactory(customer=customer, slot=SlotFactory(theme=theme), status=status)

    with pytest.raises(Forbidden, match="attended"):
        review_create(author=customer, theme=theme, rating=5, comment="")


def test_create_refuses_attendance_of_another_theme(theme, customer):
    attend(customer, ThemeFactory())

    with pytest.raises(Forbidden) as exc:
        review_create(author=customer, theme=theme, rating=5, comment="")

    assert exc.value.code == "not_attended"


def test_create_refuses_the_themes_own_merchant(theme):
    attend(theme.merchant.owner, theme)

    with pytest.raises(Forbidden) as exc:
        review_create(author=theme.merchant.owner, theme=theme, rating=5, comment="")

    assert exc.value.code == "own_theme"


def test_create_allows_attendee_of_a_deactivated_theme(theme, customer):
    attend(customer, theme)
    theme.is_active = False
    theme.save(update_fields=["is_active"])

    review_create(author=customer, theme=theme, rating=2, comment="")

    assert _rating_of(theme) == (Decimal("2.00"), 1)


@pytest.mark.parametrize("rating", [0, 6, -1, 9, "5", 4.5, True, None])
def test_create_refuses_rating_outside_one_to_five(theme, customer, rating):
    attend(customer, theme)

    with pytest.raises(InvalidInput) as exc:
        review_create(author=customer, theme=theme, rating=rating, comment="")

    assert (exc.value.field, exc.value.http_status) == ("rating", 400)
    assert not Review.objects.exists()


def test_create_refuses_overlong_comment(theme, customer):
    attend(customer, theme)

    with pytest.raises(InvalidInput) as exc:
        review_create(author=customer, theme=theme, rating=3, comment="x" * 5001)

    assert exc.value.field == "comment"


# --- one review per author and theme ---------------------------------------------------


def test_second_review_of_a_theme_is_already_reviewed(theme, customer):
    attend(customer, theme)
    attend(customer, theme)  # attended twice: still one review
    review_create(author=customer, theme=theme, rating=5, comment="")

    with pytest.raises(DomainError) as exc:
        review_create(author=customer, theme=theme, rating=1, comment="")

    assert (exc.value.code, exc.value.http_status) == ("already_reviewed", 409)
    assert Review.objects.get().rating == 5
    assert _rating_of(theme) == (Decimal("5.00"), 1)


def test_database_constraint_refuses_a_duplicate_review(theme, customer):
    ReviewFactory(author=customer, theme=theme)

    with pytest.raises(IntegrityError, match="review_one_per_author_theme"), transaction.atomic():
        Review.objects.create(author=customer, theme=theme, rating=3)


def test_database_constraint_refuses_rating_out_of_range(theme, customer):
    with pytest.raises(IntegrityError, match="review_rating_1_to_5"), transaction.atomic():
        Review.objects.create(author=customer, theme=theme, rating=6)


def test_unique_violation_past_the_check_becomes_already_reviewed(theme, customer, monkeypatch):
    """The backstop: if the pre-check is ever bypassed, the constraint still yields a clean 409."""
    attend(customer, theme)
    review_create(author=customer, theme=theme, rating=5, comment="")
    monkeypatch.setattr(services, "has_reviewed", lambda **kwargs: False)

    with pytest.raises(DomainError) as exc:
        review_create(author=customer, theme=theme, rating=1, comment="")

    assert exc.value.code == "already_reviewed"
    assert Review.objects.count() == 1
    assert _rating_of(theme) == (Decimal("5.00"), 1)


# --- the theme rating follows every write ------------------------------------------------


def test_rating_avg_is_rounded_to_two_decimals(theme):
    for rating in (5, 4, 4):
        _write_review(theme, rating)

    assert _rating_of(theme) == (Decimal("4.33"), 3)


def test_create_updates_the_theme_instance_passed_in(theme, customer):
    attend(customer, theme)

    review_create(author=customer, theme=theme, rating=3, comment="")

    assert (theme.rating_avg, theme.review_count) == (Decimal("3.00"), 1)


def test_update_recomputes_the_rating(theme):
    _write_review(theme, 5)
    review = _write_review(theme, 4)

    updated = review_update(review=review, rating=1, comment="Changed my mind.")

    assert (updated.rating, updated.comment) == (1, "Changed my mind.")
    review.refresh_from_db()
    assert (review.rating, review.comment) == (1, "Changed my mind.")
    assert _rating_of(theme) == (Decimal("3.00"), 2)


def test_update_of_the_comment_only_keeps_the_rating(theme):
    review = _write_review(theme, 4, comment="Good.")

    review_update(review=review, comment="Very good.")

    review.refresh_from_db()
    assert (review.rating, review.comment) == (4, "Very good.")
    assert _rating_of(theme) == (Decimal("4.00"), 1)


def test_update_refuses_a_bad_rating_and_changes_nothing(theme):
    review = _write_review(theme, 4)

    with pytest.raises(InvalidInput):
        review_update(review=review, rating=9)

    review.refresh_from_db()
    assert review.rating == 4


def test_update_of_a_deleted_review_is_not_found(theme):
    review = _write_review(theme, 4)
    Review.objects.filter(pk=review.pk).delete()

    with pytest.raises(DomainError) as exc:
        review_update(review=review, rating=2)

    assert exc.value.http_status == 404


def test_delete_recomputes_the_rating_down_to_zero(theme):
    first = _write_review(theme, 5)
    second = _write_review(theme, 2)

    review_delete(review=first)
    assert _rating_of(theme) == (Decimal("2.00"), 1)

    review_delete(review=second)
    assert _rating_of(theme) == (Decimal("0.00"), 0)
    assert not Review.objects.exists()


def test_hidden_reviews_are_not_counted_until_unhidden(theme):
    _write_review(theme, 5)
    harsh = _write_review(theme, 1)

    review_set_hidden(review=harsh, hidden=True)
    harsh.refresh_from_db()
    assert harsh.is_hidden
    assert _rating_of(theme) == (Decimal("5.00"), 1)

    review_set_hidden(review=harsh, hidden=False)
    assert _rating_of(theme) == (Decimal("3.00"), 2)


def test_editing_a_hidden_review_keeps_it_uncounted(theme):
    _write_review(theme, 5)
    hidden = _write_review(theme, 1)
    review_set_hidden(review=hidden, hidden=True)

    review_update(review=hidden, rating=2)

    assert _rating_of(theme) == (Decimal("5.00"), 1)


# --- races: real threads, each on its own connection ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_ten_attendees_reviewing_at_once_are_all_counted():
    theme = ThemeFactory()
    slot = SlotFactory(theme=theme, capacity=20)
    ratings = [5, 5, 5, 4, 4, 4, 3, 3, 2, 1]
    authors = [UserFactory() for _ in ratings]
    for author in authors:
        attend(author, theme, slot=slot)

    results = run_together(
        [
            (lambda author=author, rating=rating: review_create(author=author, theme=theme, rating=rating, comment=""))
            for author, rating in zip(authors, ratings, strict=True)
        ]
    )

    assert all(isinstance(result, Review) for result in results), results
    assert Review.objects.filter(theme=theme).count() == 10
    assert _rating_of(theme) == (Decimal("3.60"), 10)


@pytest.mark.django_db(transaction=True)
def test_same_author_submitting_twice_at_once_gets_one_review():
    theme = ThemeFactory()
    author = UserFactory()
    attend(author, theme)

    results = run_together(
        [
            (lambda rating=rating: review_create(author=author, theme=theme, rating=rating, comment=""))
            for rating in (5, 1)
        ]
    )

    reviews = [result for result in results if isinstance(result, Review)]
    errors = [result for result in results if isinstance(result, DomainError)]
    assert len(reviews) == 1, results
    assert len(errors) == 1, results
    assert errors[0].code == "already_reviewed"
    assert Review.objects.filter(theme=theme, author=author).count() == 1
    assert _rating_of(theme) == (Decimal(reviews[0].rating), 1)
