from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from bookings.tests.factories import ConfirmedBookingFactory
from catalog.tests.factories import SlotFactory, ThemeFactory
from conftest import bearer_client
from merchants.tests.factories import PendingMerchantFactory
from reviews.models import Review
from reviews.services import review_create, review_set_hidden
from reviews.tests.factories import ReviewFactory, attend

pytestmark = pytest.mark.django_db

REVIEWS_URL = "/api/v1/reviews/"


def review_url(review_id) -> str:
    return f"/api/v1/reviews/{review_id}/"


def theme_reviews_url(theme_id) -> str:
    return f"/api/v1/themes/{theme_id}/reviews/"


@pytest.fixture
def theme():
    return ThemeFactory()


@pytest.fixture
def attendee(customer, theme):
    attend(customer, theme)
    return customer


def _rating_of(theme) -> tuple[Decimal, int]:
    theme.refresh_from_db(fields=["rating_avg", "review_count"])
    return theme.rating_avg, theme.review_count


# --- POST /reviews/ ----------------------------------------------------------------


def test_attendee_reviews_a_theme(customer_client, attendee, theme):
    response = customer_client.post(REVIEWS_URL, {"theme": theme.pk, "rating": 4, "comment": "Tense and fun."})

    assert response.status_code == 201, response.data
    review = Review.objects.get()
    assert response.data == {
        "id": review.pk,
        "theme": theme.pk,
        "author": {"id": attendee.pk, "full_name": attendee.full_name},
        "rating": 4,
        "comment": "Tense and fun.",
        "created_at": response.data["created_at"],
        "updated_at": response.data["updated_at"],
    }
    assert response.data["created_at"].endswith("Z") or "+" in response.data["created_at"]
    assert _rating_of(theme) == (Decimal("4.00"), 1)


def test_comment_is_optional(customer_client, attendee, theme):
    response = customer_client.post(REVIEWS_URL, {"theme": theme.pk, "rating": 5})

    assert response.status_code == 201
    assert response.data["comment"] == ""


def test_read_only_fields_sent_on_create_are_ignored(customer_client, attendee, theme):
    other = UserFactory()

    response = customer_client.post(
        REVIEWS_URL,
        {
            "theme": theme.pk,
            "rating": 3,
            "author": other.pk,
            "is_hidden": True,
            "created_at": "2001-01-01T00:00:00Z",
            "rating_avg": "5.00",
        },
    )

    assert response.status_code == 201
    review = Review.objects.get()
    assert (review.author, review.is_hidden) == (attendee, False)
    assert review.created_at.year != 2001
    assert _rating_of(theme) == (Decimal("3.00"), 1)


def test_confirmed_but_not_attended_is_refused(customer_client, customer, theme):
    ConfirmedBookingFactory(customer=customer, slot=SlotFactory(theme=theme))

    response = customer_client.post(REVIEWS_URL, {"theme": theme.pk, "rating": 5})

    assert response.status_code == 403
    assert response.data["code"] == "not_attended"
    assert not Review.objects.exists()


def test_second_review_is_refused_with_already_reviewed(customer_client, attendee, theme):
    assert customer_client.post(REVIEWS_URL, {"theme": theme.pk, "rating": 5}).status_code == 201

    response = customer_client.post(REVIEWS_URL, {"theme": theme.pk, "rating": 1})

    assert response.status_code == 409
    assert response.data["code"] == "already_reviewed"
    assert response.data["detail"]
    assert _rating_of(theme) == (Decimal("5.00"), 1)


def test_anonymous_cannot_review(api_client, theme):
    response = api_client.post(REVIEWS_URL, {"theme": theme.pk, "rating": 5})

    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": "abc"}, "rating"),
        ({"rating": 9}, "rating"),
        ({"rating": 0}, "rating"),
        ({"rating": 4.5}, "rating"),
        ({"rating": None}, "rating"),
        ({"rating": [5]}, "rating"),
        ({"rating": 10**30}, "rating"),
        ({"theme": None}, "theme"),
        ({"theme": 999999999999999999999}, "theme"),
        ({"theme": -1}, "theme"),
        ({"theme": 0}, "theme"),
        ({"theme": "abc"}, "theme"),
        ({"theme": "１"}, "theme"),
        ({"theme": 1.5}, "theme"),
        ({"theme": True}, "theme"),
        ({"theme": {"id": 1}}, "theme"),
        ({"comment": "x" * 5001}, "comment"),
        ({"comment": None}, "comment"),
        ({"comment": "nul\x00byte"}, "comment"),
    ],
)
def test_bad_input_is_a_400_on_the_field(customer_client, attendee, theme, body, field):
    payload = {"theme": theme.pk, "rating": 4, "comment": "ok"} | body

    response = customer_client.post(REVIEWS_URL, payload)

    assert response.status_code == 400, response.data
    assert field in response.data
    assert not Review.objects.exists()


@pytest.mark.parametrize("missing", ["theme", "rating"])
def test_missing_field_is_a_400(customer_client, attendee, theme, missing):
    payload = {"theme": theme.pk, "rating": 4}
    del payload[missing]

    response = customer_client.post(REVIEWS_URL, payload)

    assert response.status_code == 400
    assert missing in response.data


@pytest.mark.parametrize("body", ["not json", "[1, 2]", "null", "{"])
def test_malformed_body_is_a_400(customer_client, body):
    response = customer_client.post(REVIEWS_URL, body, content_type="application/json")

    assert response.status_code == 400


def test_theme_id_as_string_is_accepted(customer_client, attendee, theme):
    response = customer_client.post(REVIEWS_URL, {"theme": str(theme.pk), "rating": 4})

    assert response.status_code == 201


def test_unknown_or_invisible_theme_is_a_400_on_theme(customer_client, customer):
    inactive = ThemeFactory(is_active=False)
    unapproved = ThemeFactory(merchant=PendingMerchantFactory())

    for theme_id in (inactive.pk, unapproved.pk, inactive.pk + unapproved.pk + 1000):
        response = customer_client.post(REVIEWS_URL, {"theme": theme_id, "rating": 4})
        assert response.status_code == 400, theme_id
        assert "theme" in response.data


def test_attendee_may_review_a_theme_deactivated_since(customer_client, attendee, theme):
    theme.is_active = False
    theme.save(update_fields=["is_active"])

    response = customer_client.post(REVIEWS_URL, {"theme": theme.pk, "rating": 2})

    assert response.status_code == 201
    assert _rating_of(theme) == (Decimal("2.00"), 1)


# --- GET /themes/{id}/reviews/ ---------------------------------------------------------


def test_theme_reviews_are_listed_newest_first_without_hidden_ones(api_client, theme):
    oldest = ReviewFactory(theme=theme, rating=5)
    hidden = ReviewFactory(theme=theme, rating=1)
    newest = ReviewFactory(theme=theme, rating=3)
    ReviewFactory()  # another theme
    review_set_hidden(review=hidden, hidden=True)

    response = api_client.get(theme_reviews_url(theme.pk))

    assert response.status_code == 200
    assert [item["id"] for item in response.data["results"]] == [newest.pk, oldest.pk]
    assert response.data["results"][0]["author"] == {"id": newest.author.pk, "full_name": newest.author.full_name}
    assert response.data["next"] is None
    assert response.data["previous"] is None


def test_theme_reviews_are_cursor_paginated(api_client, theme):
    reviews = ReviewFactory.create_batch(5, theme=theme)
    expected = [review.pk for review in reversed(reviews)]

    first = api_client.get(theme_reviews_url(theme.pk), {"page_size": 2})
    second = api_client.get(first.data["next"])
    third = api_client.get(second.data["next"])

    ids = [item["id"] for page in (first, second, third) for item in page.data["results"]]
    assert ids == expected
    assert third.data["next"] is None


def test_theme_reviews_query_count_does_not_grow_with_page_size(api_client, theme):
    def count_queries(page_size: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = api_client.get(theme_reviews_url(theme.pk), {"page_size": page_size})
        assert response.status_code == 200
        assert len(response.data["results"]) == page_size
        return len(ctx.captured_queries)

    ReviewFactory.create_batch(5, theme=theme)
    few = count_queries(5)
    ReviewFactory.create_batch(45, theme=theme)
    many = count_queries(50)

    assert few == many
    assert many <= 2


@pytest.mark.parametrize("theme_id", [999999, 999999999999999999999])
def test_reviews_of_an_unknown_theme_are_a_404(api_client, theme_id):
    assert api_client.get(theme_reviews_url(theme_id)).status_code == 404


def test_reviews_of_an_inactive_theme_are_a_404_for_the_public(api_client, admin_client_api):
    theme = ThemeFactory(is_active=False)
    ReviewFactory(theme=theme)

    assert api_client.get(theme_reviews_url(theme.pk)).status_code == 404
    assert bearer_client(theme.merchant.owner).get(theme_reviews_url(theme.pk)).status_code == 200
    assert admin_client_api.get(theme_reviews_url(theme.pk)).status_code == 200


def test_a_bad_cursor_is_not_a_500(api_client, theme):
    response = api_client.get(theme_reviews_url(theme.pk), {"cursor": "garbage"})

    assert response.status_code == 404


# --- GET/PATCH/DELETE /reviews/{id}/ -------------------------------------------------------


def test_anyone_may_read_a_visible_review(api_client):
    review = ReviewFactory()

    response = api_client.get(review_url(review.pk))

    assert response.status_code == 200
    assert response.data["id"] == review.pk


def test_a_hidden_review_is_seen_only_by_its_author_and_admins(api_client, customer_client, admin_client_api):
    review = ReviewFactory()
    review_set_hidden(review=review, hidden=True)

    assert api_client.get(review_url(review.pk)).status_code == 404
    assert customer_client.get(review_url(review.pk)).status_code == 404
    assert bearer_client(review.author).get(review_url(review.pk)).status_code == 200
    assert admin_client_api.get(review_url(review.pk)).status_code == 200


def test_author_edits_their_review_and_the_rating_follows(theme):
    for author in (UserFactory(), UserFactory()):
        attend(author, theme)
        review_create(author=author, theme=theme, rating=5, comment="")
    review = Review.objects.filter(theme=theme).latest("id")

    response = bearer_client(review.author).patch(
        review_url(review.pk),
        {
            "rating": 2,
            "comment": "Second thoughts.",
            "theme": ThemeFactory().pk,
            "author": UserFactory().pk,
            "created_at": "2001-01-01T00:00:00Z",
        },
    )

    assert response.status_code == 200, response.data
    assert response.data["rating"] == 2
    assert response.data["comment"] == "Second thoughts."
    assert response.data["theme"] == theme.pk
    assert response.data["author"]["id"] == review.author.pk
    review.refresh_from_db()
    assert (review.rating, review.theme) == (2, theme)
    assert review.created_at.year != 2001
    assert review.updated_at > review.created_at
    assert _rating_of(theme) == (Decimal("3.50"), 2)


@pytest.mark.parametrize("rating", ["abc", 9, 0, None])
def test_patch_with_a_bad_rating_is_a_400(rating):
    review = ReviewFactory(rating=4)

    response = bearer_client(review.author).patch(review_url(review.pk), {"rating": rating})

    assert response.status_code == 400
    assert "rating" in response.data
    review.refresh_from_db()
    assert review.rating == 4


def test_another_user_cannot_patch_or_delete_a_review(customer_client):
    review = ReviewFactory(rating=4)

    assert customer_client.patch(review_url(review.pk), {"rating": 1}).status_code == 404
    assert customer_client.delete(review_url(review.pk)).status_code == 404
    review.refresh_from_db()
    assert review.rating == 4


def test_the_themes_merchant_cannot_patch_a_review():
    review = ReviewFactory(rating=1)

    response = bearer_client(review.theme.merchant.owner).patch(review_url(review.pk), {"rating": 5})

    assert response.status_code == 404


def test_anonymous_cannot_patch_or_delete(api_client):
    review = ReviewFactory()

    assert api_client.patch(review_url(review.pk), {"rating": 1}).status_code == 401
    assert api_client.delete(review_url(review.pk)).status_code == 401


def test_put_is_not_allowed():
    review = ReviewFactory()

    response = bearer_client(review.author).put(review_url(review.pk), {"rating": 1, "theme": review.theme_id})

    assert response.status_code == 405


def test_admin_may_patch_and_delete_any_review(admin_client_api, theme):
    keep = ReviewFactory(theme=theme, rating=4)
    review = ReviewFactory(theme=theme, rating=1)

    assert admin_client_api.patch(review_url(review.pk), {"comment": "[edited by moderator]"}).status_code == 200
    response = admin_client_api.delete(review_url(review.pk))

    assert response.status_code == 204
    assert list(Review.objects.all()) == [keep]
    assert _rating_of(theme) == (Decimal("4.00"), 1)


def test_author_deletes_their_review_and_the_rating_follows(customer_client, attendee, theme):
    review_id = customer_client.post(REVIEWS_URL, {"theme": theme.pk, "rating": 5}).data["id"]

    response = customer_client.delete(review_url(review_id))

    assert response.status_code == 204
    assert _rating_of(theme) == (Decimal("0.00"), 0)
    assert customer_client.get(review_url(review_id)).status_code == 404


@pytest.mark.parametrize("review_id", ["999999999999999999999", "abc", "0"])
def test_unknown_review_ids_are_404_not_500(customer_client, review_id):
    assert customer_client.get(f"/api/v1/reviews/{review_id}/").status_code == 404
    assert customer_client.patch(f"/api/v1/reviews/{review_id}/", {"rating": 1}).status_code == 404
    assert customer_client.delete(f"/api/v1/reviews/{review_id}/").status_code == 404


def test_openapi_schema_documents_the_review_endpoints(api_client):
    response = api_client.get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths["/api/v1/reviews/"]) >= {"post"}
    assert set(paths["/api/v1/reviews/{id}/"]) >= {"get", "patch", "delete"}
    assert "get" in paths["/api/v1/themes/{theme_id}/reviews/"]
    assert {"400", "403", "409"} <= set(paths["/api/v1/reviews/"]["post"]["responses"])
