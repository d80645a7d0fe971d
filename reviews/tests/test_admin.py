from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.tests.factories import ThemeFactory
from reviews.models import Review
from reviews.services import review_set_hidden
from reviews.tests.factories import ReviewFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:reviews_review_changelist")


@pytest.fixture
def admin_web(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def theme():
    return ThemeFactory()


@pytest.fixture
def reviews(theme):
    reviews = [ReviewFactory(theme=theme, rating=rating) for rating in (5, 1, 3)]
    # Factories write rows directly; bring the theme's rating in step once.
    review_set_hidden(review=reviews[0], hidden=False)
    return reviews


def _rating_of(theme) -> tuple[Decimal, int]:
    theme.refresh_from_db(fields=["rating_avg", "review_count"])
    return theme.rating_avg, theme.review_count


def test_changelist_search_and_filters_load(admin_web, reviews):
    for params in ({}, {"q": "Great"}, {"q": reviews[0].author.email}, {"rating": "5"}, {"is_hidden__exact": "1"}):
        assert admin_web.get(CHANGELIST, params).status_code == 200


def test_search_by_id_email_comment_or_theme_title(admin_web, theme, reviews):
    target = reviews[1]
    target.comment = "Rude staff and a broken lock."
    target.save(update_fields=["comment"])
    other_theme = ThemeFactory(title="Pirate cove")
    elsewhere = ReviewFactory(theme=other_theme)

    def found(term):
        return set(admin_web.get(CHANGELIST, {"q": term}).context["cl"].result_list)

    assert found(str(target.pk)) == {target}
    assert found(f"#{target.pk}") == {target}
    assert found(target.author.email.upper()) == {target}
    assert found("broken lock") == {target}
    assert found("pirate") == {elsewhere}
    assert found("nobody@example.com") == set()
    for odd in ("99999999999999999999999999", "'; DROP TABLE x; --", "１２３"):
        assert admin_web.get(CHANGELIST, {"q": odd}).status_code == 200


def test_hide_and_unhide_actions_move_the_rating(admin_web, theme, reviews):
    harsh = reviews[1]
    assert _rating_of(theme) == (Decimal("3.00"), 3)

    response = admin_web.post(CHANGELIST, {"action": "hide_reviews", "_selected_action": [harsh.pk]})
    assert response.status_code == 302
    harsh.refresh_from_db()
    assert harsh.is_hidden
    assert _rating_of(theme) == (Decimal("4.00"), 2)

    admin_web.post(CHANGELIST, {"action": "unhide_reviews", "_selected_action": [harsh.pk]})
    harsh.refresh_from_db()
    assert not harsh.is_hidden
    assert _rating_of(theme) == (Decimal("3.00"), 3)


def test_toggling_hidden_on_the_change_form_moves_the_rating(admin_web, theme, reviews):
    harsh = reviews[1]
    url = reverse("admin:reviews_review_change", args=[harsh.pk])
    assert admin_web.get(url).status_code == 200

    response = admin_web.post(url, {"is_hidden": "on"})

    assert response.status_code == 302
    harsh.refresh_from_db()
    assert harsh.is_hidden
    assert _rating_of(theme) == (Decimal("4.00"), 2)


def test_deleting_in_admin_moves_the_rating(admin_web, theme, reviews):
    first, second, third = reviews

    admin_web.post(reverse("admin:reviews_review_delete", args=[first.pk]), {"post": "yes"})
    assert _rating_of(theme) == (Decimal("2.00"), 2)

    admin_web.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [second.pk, third.pk], "post": "yes"})
    assert not Review.objects.exists()
    assert _rating_of(theme) == (Decimal("0.00"), 0)


def test_admins_cannot_add_reviews_by_hand(admin_web):
    assert admin_web.get(reverse("admin:reviews_review_add")).status_code == 403
