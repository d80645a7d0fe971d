"""The customer's review page through Django's test client."""

from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.tests.factories import ThemeFactory
from reviews.models import Review
from reviews.tests.factories import ReviewFactory, attend

pytestmark = pytest.mark.django_db


def review_url(theme) -> str:
    return reverse("portal:review", args=[theme.pk])


@pytest.fixture
def theme():
    return ThemeFactory(title="The Vault")


@pytest.fixture
def web(client, customer):
    client.force_login(customer)
    return client


@pytest.fixture
def attendee(customer, theme):
    attend(customer, theme)
    return customer


def test_anonymous_visitors_are_sent_to_log_in(client, theme):
    response = client.get(review_url(theme))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('portal:login')}?next={review_url(theme)}"


def test_an_attendee_gets_a_labelled_form(web, attendee, theme):
    response = web.get(review_url(theme))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Write a review of The Vault" in html
    assert '<label for="id_rating">Rating' in html
    assert '<label for="id_comment">Comment' in html
    assert ">Publish review</button>" in html
    assert 'name="csrfmiddlewaretoken"' in html


def test_an_attendee_writes_a_review_through_the_service(web, attendee, theme):
    response = web.post(review_url(theme), {"rating": "5", "comment": "Brilliant puzzles."}, follow=True)

    assert response.redirect_chain == [(reverse("portal:theme-detail", args=[theme.pk]), 302)]
    review = Review.objects.get()
    assert (review.author, review.theme, review.rating, review.comment) == (attendee, theme, 5, "Brilliant puzzles.")
    theme.refresh_from_db()
    assert (theme.rating_avg, theme.review_count) == (Decimal("5.00"), 1)  # recomputed by review_create
    html = response.content.decode()
    assert "Thank you: your review is saved." in html
    assert "Brilliant puzzles." in html
    assert "5.0 / 5 from 1 review" in html


def test_editing_my_review_prefills_the_form_and_updates_it(web, attendee, theme):
    review = ReviewFactory(author=attendee, theme=theme, rating=2, comment="Meh.")

    html = web.get(review_url(theme)).content.decode()
    assert "Edit your review of The Vault" in html
    assert '<option value="2" selected>' in html
    assert "Meh." in html

    web.post(review_url(theme), {"rating": "4", "comment": "Better the second time."})

    review.refresh_from_db()
    assert (review.rating, review.comment) == (4, "Better the second time.")
    assert Review.objects.count() == 1
    theme.refresh_from_db()
    assert theme.rating_avg == Decimal("4.00")


def test_someone_who_did_not_attend_gets_an_explanation_not_an_error(web, theme):
    page = web.get(review_url(theme))
    assert page.status_code == 200
    assert "Only customers who attended The Vault may review it." in page.content.decode()

    posted = web.post(review_url(theme), {"rating": "5", "comment": "Sneaky"})

    assert posted.status_code == 200
    assert "Only customers who attended" in posted.content.decode()
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"rating": "", "comment": "x"}, "Choose a rating from 1 to 5."),
        ({"rating": "9", "comment": "x"}, "Choose a rating from 1 to 5."),
        ({"rating": "abc"}, "Choose a rating from 1 to 5."),
        ({"rating": "4", "comment": "x" * 5001}, "Ensure this value has at most 5000 characters"),
    ],
)
def test_bad_review_input_rerenders_the_form_with_the_error(web, attendee, theme, data, error):
    response = web.post(review_url(theme), data)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Review.objects.exists()


def test_a_theme_nobody_may_see_is_404_for_someone_who_did_not_attend(web):
    hidden = ThemeFactory(is_active=False)

    assert web.get(review_url(hidden)).status_code == 404


def test_an_attendee_may_still_review_a_theme_deactivated_since(web, attendee, theme):
    theme.is_active = False
    theme.save(update_fields=["is_active"])

    web.post(review_url(theme), {"rating": "3", "comment": ""})

    assert Review.objects.get().rating == 3


def test_the_review_form_needs_a_csrf_token(customer, theme):
    from django.test import Client

    attend(customer, theme)
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)

    assert client.post(review_url(theme), {"rating": "5"}).status_code == 403
    assert not Review.objects.exists()
